package ddns

import dto "github.com/prometheus/client_model/go"

func counter(u *Updater, result string) float64 {
	var m dto.Metric
	if err := u.m.updates.WithLabelValues(result).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

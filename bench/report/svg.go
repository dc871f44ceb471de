package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// series is one server's curve for the chart.
type series struct {
	Name  string
	Color string
	Pts   []curvePoint
	Flat  spread // achieved flat out, drawn as a dashed horizontal line
}

// writeSVG draws achieved vs offered rate: one line per server with the
// min–max range of the repeats as error bars, the ideal (achieved =
// offered) diagonal, and each server's flat-out rate as a dashed line.
func writeSVG(w io.Writer, title string, ss []series) error {
	const W, H, ml, mr, mt, mb = 760.0, 460.0, 70.0, 180.0, 40.0, 55.0
	xmax, ymax := 1.0, 1.0
	for _, s := range ss {
		for _, p := range s.Pts {
			xmax = math.Max(xmax, p.Offered)
			ymax = math.Max(ymax, p.Achieved.Max)
		}
		if !math.IsNaN(s.Flat.Max) {
			ymax = math.Max(ymax, s.Flat.Max)
		}
	}
	step := niceStep(math.Max(xmax, ymax))
	xmax = math.Ceil(xmax/step) * step
	ymax = math.Ceil(math.Max(ymax, xmax)/step) * step
	pw, ph := W-ml-mr, H-mt-mb
	X := func(v float64) float64 { return ml + pw*v/xmax }
	Y := func(v float64) float64 { return mt + ph*(1-v/ymax) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%.0f" height="%.0f" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%.0f" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", ml, esc(title))
	for v := 0.0; v <= xmax+1e-9; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", X(v), Y(0), X(v), Y(ymax))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", X(v), Y(0)+16, kfmt(v))
	}
	for v := 0.0; v <= ymax+1e-9; v += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", X(0), Y(v), X(xmax), Y(v))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", X(0)-6, Y(v)+4, kfmt(v))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">offered DORA/s (perfdhcp -r)</text>`+"\n", ml+pw/2, H-12)
	fmt.Fprintf(&b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">completed DORA/s</text>`+"\n", mt+ph/2)
	m := math.Min(xmax, ymax)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2 4"/>`+"\n", X(0), Y(0), X(m), Y(m))
	ly := mt + 10
	for _, s := range ss {
		var pts []string
		for _, p := range s.Pts {
			if math.IsNaN(p.Achieved.Med) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", X(p.Offered), Y(p.Achieved.Med)))
			if p.Achieved.Max > p.Achieved.Min {
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", X(p.Offered), Y(p.Achieved.Min), X(p.Offered), Y(p.Achieved.Max), s.Color)
			}
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", X(p.Offered), Y(p.Achieved.Med), s.Color)
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), s.Color)
		}
		if !math.IsNaN(s.Flat.Med) {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 4"/>`+"\n", X(0), Y(s.Flat.Med), X(xmax), Y(s.Flat.Med), s.Color)
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", W-mr+15, ly, W-mr+40, ly, s.Color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", W-mr+46, ly+4, esc(s.Name))
		ly += 18
		if !math.IsNaN(s.Flat.Med) {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="6 4"/>`+"\n", W-mr+15, ly, W-mr+40, ly, s.Color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s flat out %s/s</text>`+"\n", W-mr+46, ly+4, esc(s.Name), kfmt(s.Flat.Med))
			ly += 18
		}
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2 4"/>`+"\n", W-mr+15, ly, W-mr+40, ly)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">completed = offered</text>`+"\n", W-mr+46, ly+4)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#555">bars: min–max of repeats</text>`+"\n", W-mr+15, ly+22)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep picks a grid step (1, 2 or 5 × 10^k) giving 4–10 lines.
func niceStep(span float64) float64 {
	if span <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(span)))
	for _, m := range []float64{0.1, 0.2, 0.5, 1, 2, 5} {
		if span/(m*p) <= 10 {
			return m * p
		}
	}
	return 10 * p
}

// kfmt writes 12000 as "12k" and 2500 as "2.5k".
func kfmt(v float64) string {
	if v >= 1000 {
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v/1000), "0"), ".") + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

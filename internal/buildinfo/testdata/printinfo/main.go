// Command printinfo prints buildinfo.Get() (for buildinfo's tests).
package main

import (
	"fmt"

	"github.com/leased/leased/internal/buildinfo"
)

func main() {
	i := buildinfo.Get()
	fmt.Printf("version=%s revision=%s modified=%v time=%s\n", i.Version, i.Revision, i.Modified, i.Time)
}

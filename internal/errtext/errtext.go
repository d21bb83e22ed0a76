// Package errtext holds checks of error messages shared by the project's
// tests.
package errtext

import "strings"

// Repeated returns a part of msg, between ": " or "; " separators, that
// occurs more than once, or "". Wrapping an error with an error it already
// holds shows as such a repeat ("context deadline exceeded: context
// deadline exceeded"). Parts shorter than 4 bytes are not compared.
func Repeated(msg string) string {
	seen := map[string]bool{}
	for _, part := range strings.Split(strings.ReplaceAll(msg, "; ", ": "), ": ") {
		part = strings.TrimSpace(part)
		if len(part) < 4 {
			continue
		}
		if seen[part] {
			return part
		}
		seen[part] = true
	}
	return ""
}

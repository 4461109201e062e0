// Command hello is the bench's lower floor for a command's whole-process
// time: a static Go binary that prints a token-sized string and exits.
package main

import (
	"os"
	"strings"
)

func main() {
	os.Stdout.WriteString(strings.Repeat("x", 1023) + "\n")
}

package main

import (
	"os"
	"strings"
	"testing"
)

// asCLI marks the environment of the test binary's children: a process
// target whose command is {cloudtest} runs os.Executable(), which in these
// tests is the test binary itself, and must behave as cloudtest (serve the
// demo bank), not run the tests again.
const asCLI = "CLOUDTEST_TEST_BINARY_IS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" && len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-test.") {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Setenv(asCLI, "1")
	os.Exit(m.Run())
}

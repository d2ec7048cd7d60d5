//go:build race

package service_test

// raceBuild builds the server process with the race detector too when the
// tests run with it: the service's own goroutines are then checked.
const raceBuild = true

//go:build !race

package service_test

const raceBuild = false

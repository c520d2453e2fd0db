//go:build tools

// Package tools pins the commands we build so `go mod tidy` keeps their dependencies.
package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
	_ "github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit"
)

// Runs an Argo CD resource health check (Lua) the way Argo CD does, so the check we ship for
// racetrack.io Jobs is tested against real objects without an Argo CD installation.
module racetrack.io/tests/argocdhealth

go 1.22

// The Lua VM Argo CD v2.x and v3.x embed.
require github.com/yuin/gopher-lua v1.1.1

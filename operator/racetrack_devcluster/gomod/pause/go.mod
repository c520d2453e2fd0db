// The sandbox ("pause") binary of the real dev node: no dependencies, built here so no
// image has to come from a public registry.
module racetrack.io/devcluster/pause

go 1.22

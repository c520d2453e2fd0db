// The pod network daemon of our kind node image: standard library only.
module racetrack.io/devcluster/kind-cni

go 1.22

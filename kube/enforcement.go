package kube

// The report types of sandbox.Capabilities.Enforcement, named once so that
// the rest of the package speaks of them through these aliases.

import "github.com/go-sandbox/sandbox"

type (
	enforcement  = sandbox.Enforcement
	mechanism    = sandbox.Mechanism
	limitSupport = sandbox.LimitSupport
)

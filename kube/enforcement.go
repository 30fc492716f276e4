package kube

// The report types of sandbox.Capabilities.Enforcement. They are named
// here once, so that the rest of the package speaks of them only through
// these aliases.
//
// TODO(root API change): the root package is moving this report to its
// own types (sandbox.Enforcement, sandbox.Mechanism, sandbox.LimitSupport);
// when it lands, this file points at them and the osconfine import goes.

import "github.com/go-sandbox/sandbox/osconfine"

type (
	enforcement  = osconfine.Support
	mechanism    = osconfine.Mechanism
	limitSupport = osconfine.LimitSupport
)

package sandbox_test

import "github.com/go-sandbox/sandbox"

// The package's test helpers (export_linux_test.go), under the names the
// internal tests know them by.
var (
	newLocal           = sandbox.NewLocalForTest
	hasView            = sandbox.HasViewForTest
	guestPath          = sandbox.GuestPathForTest
	requireConfinement = sandbox.RequireConfinementForTest
	provision          = sandbox.ProvisionForTest
	run                = sandbox.RunForTest
	sh                 = sandbox.ShForTest
	outsideDir         = sandbox.OutsideDirForTest
	helperBinary       = sandbox.HelperBinaryForTest
	helperReq          = sandbox.HelperReqForTest
	fileContent        = sandbox.FileContentForTest
	mountSource        = sandbox.MountSourceForTest
	markedPids         = sandbox.MarkedPidsForTest
	newMarks           = sandbox.NewMarksForTest
	waitForPids        = sandbox.WaitForPidsForTest
	giveToSession      = sandbox.GiveToSessionForTest
	assertEmptyDir     = sandbox.AssertEmptyDirForTest
)

const (
	helperEnv    = sandbox.HelperEnv
	helperArgEnv = sandbox.HelperArgEnv
)

package sandbox

// The helpers of this package's tests that the external test package
// (sandbox_test) uses too; helpers_ext_linux_test.go gives them their
// usual names there.
var (
	NewLocalForTest           = newLocal
	HasViewForTest            = hasView
	GuestPathForTest          = guestPath
	RequireConfinementForTest = requireConfinement
	ProvisionForTest          = provision
	RunForTest                = run
	ShForTest                 = sh
	OutsideDirForTest         = outsideDir
	HelperBinaryForTest       = helperBinary
	HelperReqForTest          = helperReq
	FileContentForTest        = fileContent
	MountSourceForTest        = mountSource
	MarkedPidsForTest         = markedPids
	NewMarksForTest           = newMarks
	WaitForPidsForTest        = waitForPids
	GiveToSessionForTest      = giveToSession
	AssertEmptyDirForTest     = assertEmptyDir
	RegisterHelper            = registerHelper
)

// The environment variables that select a helper mode and its argument.
const (
	HelperEnv    = helperEnv
	HelperArgEnv = helperArgEnv
)

//go:build linux

package blob

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openAnon opens an unnamed regular file on dir's file system (O_TMPFILE,
// Linux 3.11; ext4, XFS, btrfs, tmpfs). It has no directory entry until
// linkAnon gives it one, and if the process dies first the file system
// frees it: a crash mid-write leaves nothing behind. It also spares the
// name that os.CreateTemp would insert into dir/tmp and the rename that
// would remove it again.
func openAnon(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir+"/(unnamed)"), nil
}

// linkAnon gives the unnamed file f the name dst (which must not exist).
// linkat(2) through /proc/self/fd needs no privilege, unlike AT_EMPTY_PATH.
func linkAnon(f *os.File, dst string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: f.Name(), New: dst, Err: err}
	}
	return nil
}

package auditlog

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// maxKeyFileSize bounds a verifier key file (checkpoint-signer.pub); real ones are one
// short line.
const maxKeyFileSize = 4 << 10

// openRegular opens path for reading and refuses anything but a regular file (after
// symlinks). The log's readers run on files an insider may have replaced: a FIFO would
// block the open until some writer came, and a device such as /dev/zero would be read
// forever. O_NONBLOCK makes the open of a FIFO return at once, so it can be refused.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (%s): replace it with the log's own file", path, fi.Mode().Type())
	}
	return f, nil
}

// readRegular reads a whole regular file (openRegular) of at most limit bytes.
func readRegular(path string, limit int64) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

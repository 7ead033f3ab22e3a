// Package atomicfile writes files so that a crash leaves either the old or
// the new content whole, never a part: write to a temporary file in the
// same directory, fsync it, rename it into place, fsync the directory.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, with the given mode.
func Write(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, os.Rename)
}

// WriteNew creates path with data, with the given mode, as Write does,
// and fails with an error wrapping fs.ErrExist if path exists: it never
// replaces a file.
func WriteNew(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, os.Link)
}

// write writes data to a temporary file, syncs it, and puts it in place
// with place (rename or link).
func write(path string, data []byte, mode os.FileMode, place func(old, new string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = place(tmp, path)
	}
	os.Remove(tmp) // left after a link or a failure; gone after a rename
	if err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, making a rename or a new file in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

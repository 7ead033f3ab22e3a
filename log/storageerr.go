package log

import (
	"errors"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
)

// isNotFound reports whether err means that the storage has no such
// object: a missing file, or a missing key in an object store (Tessera's
// AWS storage does not translate every one into os.ErrNotExist).
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	return errors.Is(err, os.ErrNotExist) || errors.As(err, &nsk)
}

// SQLite primary result codes that mean the storage cannot take writes.
const (
	sqliteReadonly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
)

// MySQL errors that mean the storage cannot take writes: table full, disk
// full, error writing a file, read-only.
var mysqlStorageErrors = map[uint16]bool{1114: true, 1021: true, 3: true, 1290: true, 1836: true}

// isStorageFull reports whether err means that the storage is full or
// cannot be written: a condition that goes away when the operator makes
// room, so the client should retry.
func isStorageFull(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteReadonly, sqliteIOErr, sqliteFull, sqliteCantOpen:
			return true
		}
	}
	var me *mysql.MySQLError
	return errors.As(err, &me) && mysqlStorageErrors[me.Number]
}

// storageUnavailable is the answer while the storage cannot take writes.
func storageUnavailable(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Err: err, RetryAfter: 10 * time.Second,
		Msg: "the log's storage is full or cannot be written: nothing was logged, retry later"}
}

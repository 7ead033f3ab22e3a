//go:build tools

package deps

import (
	_ "filippo.io/torchwood"
	_ "github.com/ProtonMail/go-crypto/openpgp/v2"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/transparency-dev/merkle"
	_ "github.com/transparency-dev/tessera"
	_ "github.com/transparency-dev/tessera/storage/posix"
	_ "github.com/transparency-dev/tessera/storage/mysql"
	_ "golang.org/x/mod/sumdb/note"
	_ "modernc.org/sqlite"
	_ "pault.ag/go/debian/control"
)

package installed_test

import (
	"fmt"
	"strings"

	"github.com/reprolog/reprolog/installed"
)

func ExampleParseHookInput() {
	in := `VERSION 3
APT::Architecture=amd64

hello 2.10-2 amd64 none < 2.10-3 amd64 none /var/cache/apt/archives/hello_2.10-3_amd64.deb
old 1.0 all none > - - none **REMOVE**
hello 2.10-2 amd64 none < 2.10-3 amd64 none **CONFIGURE**
`
	h, err := installed.ParseHookInput(strings.NewReader(in))
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Version, h.Config["APT::Architecture"], h.Debs())
	// Output: 3 [amd64] [/var/cache/apt/archives/hello_2.10-3_amd64.deb]
}

func ExampleParseStatus() {
	status := `Package: hello
Status: install ok installed
Architecture: amd64
Version: 2.10-3

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
`
	pkgs, err := installed.ParseStatus(strings.NewReader(status))
	if err != nil {
		panic(err)
	}
	for _, p := range pkgs {
		fmt.Println(p.Key, p.State)
	}
	// Output: hello 2.10-3 (amd64) installed
}

// Opens a checkpoint note with the reference Go code: the log's signature with
// golang.org/x/mod/sumdb/note, the witness's C2SP cosignature/v1 with
// github.com/transparency-dev/formats/note. Prints each verified signer and the
// cosignature's timestamp; exits 1 if the note does not open.
//
//	go run . NOTE_FILE LOG_VKEY WITNESS_VKEY
package main

import (
	"fmt"
	"os"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 4 {
		fail("usage: cosign NOTE_FILE LOG_VKEY WITNESS_VKEY")
	}
	msg, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("read: %v", err)
	}
	logVerifier, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("log vkey: %v", err)
	}
	witnessVerifier, err := fnote.NewVerifierForCosignatureV1(os.Args[3])
	if err != nil {
		fail("witness vkey: %v", err)
	}
	opened, err := note.Open(msg, note.VerifierList(logVerifier, witnessVerifier))
	if err != nil {
		fail("open: %v", err)
	}
	for _, sig := range opened.Sigs {
		line := fmt.Sprintf("verified %s %08x", sig.Name, sig.Hash)
		if sig.Hash == witnessVerifier.KeyHash() {
			when, err := fnote.CoSigV1Timestamp(sig)
			if err != nil {
				fail("timestamp: %v", err)
			}
			line += fmt.Sprintf(" time %d", when.Unix())
		}
		fmt.Println(line)
	}
}

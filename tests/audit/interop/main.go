// Command interop checks a policy-engine audit log with Go's reference code for signed
// notes and transparency logs (golang.org/x/mod/sumdb/note and sumdb/tlog), so that the
// Python verifier is never the only judge of what the log proves.
//
//	interop vkey ORIGIN PUBKEY_BASE64            print the verifier key Go derives
//	interop open NOTE VKEY                       note.Open one note file
//	interop log DIR VKEY                         every checkpoint with note.Open, every
//	                                             root with tlog.TreeHash over the records
//	interop inclusion BUNDLE VKEY                an `audit prove --request-id` bundle, with
//	                                             note.Open and tlog.CheckRecord
//	interop consistency OLD NEW PROOF VKEY       a `audit prove --consistency` proof between
//	                                             two notes, with tlog.CheckTree
//
// It exits 0 and prints one line saying what it checked, or exits 1 with the error.
package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: interop vkey|open|log|inclusion|consistency ...")
	}
	want := map[string]int{"vkey": 2, "open": 2, "log": 2, "inclusion": 2, "consistency": 4}
	if n, ok := want[args[0]]; !ok || len(args)-1 != n {
		return fmt.Errorf("bad arguments for %q", args[0])
	}
	switch args[0] {
	case "vkey":
		return deriveKey(args[1], args[2])
	case "open":
		_, err := openFile(args[1], args[2])
		if err == nil {
			fmt.Println("ok: note.Open accepted", args[1])
		}
		return err
	case "log":
		return checkLog(args[1], args[2])
	case "inclusion":
		return checkInclusion(args[1], args[2])
	default:
		return checkConsistency(args[1], args[2], args[3], args[4])
	}
}

func deriveKey(origin, public string) error {
	raw, err := base64.StdEncoding.DecodeString(public)
	if err != nil {
		return err
	}
	vkey, err := note.NewEd25519VerifierKey(origin, ed25519.PublicKey(raw))
	if err != nil {
		return err
	}
	fmt.Println(vkey)
	return nil
}

// checkpoint is a C2SP tlog-checkpoint body opened with the pinned verifier.
type checkpoint struct {
	size int64
	root tlog.Hash
}

func openNote(msg []byte, vkey string) (checkpoint, error) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return checkpoint{}, err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 || lines[0] != verifier.Name() {
		return checkpoint{}, fmt.Errorf("checkpoint origin %q is not %q", lines[0], verifier.Name())
	}
	for _, extension := range lines[3:] {
		if extension == "" {
			return checkpoint{}, errors.New("empty extension line")
		}
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("bad root hash %q", lines[2])
	}
	var hash tlog.Hash
	copy(hash[:], root)
	return checkpoint{size, hash}, nil
}

func openFile(path, vkey string) (checkpoint, error) {
	msg, err := os.ReadFile(path)
	if err != nil {
		return checkpoint{}, err
	}
	c, err := openNote(msg, vkey)
	if err != nil {
		return checkpoint{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// records reads every record line of the log's segments, in order.
func records(dir string) ([][]byte, error) {
	segments, err := filepath.Glob(filepath.Join(dir, "segment-*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(segments)
	var all [][]byte
	for _, path := range segments {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		data = bytes.TrimRight(data, "\x00") // the zero tail of a live segment
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			if len(line) > 0 {
				all = append(all, bytes.TrimSuffix(line, []byte("\n")))
			}
		}
	}
	return all, nil
}

// storage holds tlog's stored hashes of a log, as tlog.StoredHashes builds them.
type storage []tlog.Hash

func (s storage) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, index := range indexes {
		if index >= int64(len(s)) {
			return nil, fmt.Errorf("no stored hash %d", index)
		}
		out[i] = s[index]
	}
	return out, nil
}

func checkLog(dir, vkey string) error {
	lines, err := records(dir)
	if err != nil {
		return err
	}
	var stored storage
	for i, line := range lines {
		hashes, err := tlog.StoredHashes(int64(i), line, stored)
		if err != nil {
			return err
		}
		stored = append(stored, hashes...)
	}
	notes, err := filepath.Glob(filepath.Join(dir, "checkpoints", "*.note"))
	if err != nil {
		return err
	}
	if len(notes) == 0 {
		return errors.New("no checkpoint")
	}
	for _, path := range notes {
		c, err := openFile(path, vkey)
		if err != nil {
			return err
		}
		if c.size > int64(len(lines)) {
			return fmt.Errorf("%s: size %d, but the log holds %d", path, c.size, len(lines))
		}
		root, err := tlog.TreeHash(c.size, stored)
		if err != nil {
			return err
		}
		if root != c.root {
			return fmt.Errorf("%s: root %v, tlog.TreeHash %v", path, c.root, root)
		}
	}
	fmt.Printf("ok: %d checkpoints opened and their roots recomputed over %d records\n",
		len(notes), len(lines))
	return nil
}

func decodeHashes(values []string) ([]tlog.Hash, error) {
	hashes := make([]tlog.Hash, len(values))
	for i, value := range values {
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("bad proof hash %q", value)
		}
		copy(hashes[i][:], raw)
	}
	return hashes, nil
}

func checkInclusion(path, vkey string) error {
	var bundle struct {
		LeafIndex  int64    `json:"leaf_index"`
		TreeSize   int64    `json:"tree_size"`
		Proof      []string `json:"proof"`
		Checkpoint string   `json:"checkpoint"`
		Record     string   `json:"record"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &bundle); err != nil {
		return err
	}
	c, err := openNote([]byte(bundle.Checkpoint), vkey)
	if err != nil {
		return err
	}
	if c.size != bundle.TreeSize {
		return fmt.Errorf("bundle is for size %d, its checkpoint for %d", bundle.TreeSize, c.size)
	}
	proof, err := decodeHashes(bundle.Proof)
	if err != nil {
		return err
	}
	leaf := tlog.RecordHash([]byte(bundle.Record))
	if err := tlog.CheckRecord(proof, c.size, c.root, bundle.LeafIndex, leaf); err != nil {
		return err
	}
	fmt.Printf("ok: record %d is in the tree of size %d\n", bundle.LeafIndex, c.size)
	return nil
}

func checkConsistency(oldPath, newPath, proofPath, vkey string) error {
	old, err := openFile(oldPath, vkey)
	if err != nil {
		return err
	}
	current, err := openFile(newPath, vkey)
	if err != nil {
		return err
	}
	var body struct {
		Size1 int64    `json:"size1"`
		Size2 int64    `json:"size2"`
		Proof []string `json:"proof"`
	}
	data, err := os.ReadFile(proofPath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return err
	}
	if body.Size1 != old.size || body.Size2 != current.size {
		return fmt.Errorf("proof is for %d -> %d, notes for %d -> %d",
			body.Size1, body.Size2, old.size, current.size)
	}
	proof, err := decodeHashes(body.Proof)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(proof, current.size, current.root, old.size, old.root); err != nil {
		return err
	}
	fmt.Printf("ok: the tree of size %d extends the tree of size %d\n", current.size, old.size)
	return nil
}

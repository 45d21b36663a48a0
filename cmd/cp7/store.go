package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"

	"github.com/cp7/cp7/server/store"
)

// storeFlags are the durable store's flags (server/store). The cp7 binary
// keeps persistent sessions and retained messages on disk by default;
// server.DefaultConfig (tests, embedders) keeps them in memory.
type storeFlags struct {
	kind    string
	dir     string
	sync    string
	minFree uint64
	st      *store.Store
}

func init() {
	addGroup(func() flagGroup { return &storeFlags{} })
	subcommands["store"] = storeCommand
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.kind, "store", "disk", "where persistent sessions and retained messages live: disk (under -data-dir, survives restarts and kill -9) or memory (lost on restart)")
	fs.StringVar(&f.dir, "data-dir", "./data", "`DIR` of the durable store (with -store disk)")
	fs.StringVar(&f.sync, "sync", "batch", "what an acknowledged QoS 1/2 message survives: batch = one fsync per group commit before the PUBACK/PUBREC (survives power loss); none = written to the OS without fsync (survives a broker crash or kill -9, not a machine crash)")
	fs.Uint64Var(&f.minFree, "store-min-free", store.DefaultMinFree, "free disk `BYTES` below which new durable work is refused (v5 0x97 Quota exceeded; 3.1.1 QoS 1/2 publishers are disconnected) until space returns")
}

func (f *storeFlags) apply(o *options) error {
	switch f.kind {
	case "disk", "memory":
	default:
		return fmt.Errorf("-store %q: use disk or memory", f.kind)
	}
	switch f.sync {
	case "batch", "none":
	default:
		return fmt.Errorf("-sync %q: use batch or none", f.sync)
	}
	if f.kind == "disk" && f.dir == "" {
		return errors.New("-data-dir is empty: give a directory, or use -store memory")
	}
	return nil
}

// prepare opens the store; the server recovers from it in Start.
func (f *storeFlags) prepare(o *options, log *slog.Logger) error {
	if f.kind != "disk" {
		log.Info("store: in memory: persistent sessions and retained messages are lost on restart (-store memory)")
		return nil
	}
	sync := store.SyncBatch
	if f.sync == "none" {
		sync = store.SyncNone
	}
	st, err := store.Open(store.Options{Dir: f.dir, Sync: sync, MinFree: f.minFree, Log: log})
	if err != nil {
		return err
	}
	f.st = st
	o.cfg.Store = st
	log.Info("store: opened", "dir", f.dir, "sync", f.sync)
	return nil
}

// close runs after the server closed: it commits the last writes.
func (f *storeFlags) close() {
	if f.st != nil {
		_ = f.st.Close()
	}
}

// storeCommand is `cp7 store check DIR` and `cp7 store repair DIR`.
func storeCommand(args []string) error {
	usage := errors.New("usage: cp7 store check DIR | cp7 store repair DIR (DIR is the broker's -data-dir; stop the broker first)")
	if len(args) != 2 {
		return usage
	}
	dir := args[1]
	switch args[0] {
	case "check":
		rep, err := store.Check(dir)
		if err != nil {
			return err
		}
		kinds := make([]string, 0, len(rep.Counts))
		for k := range rep.Counts {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Printf("%-10s %d\n", k, rep.Counts[k])
		}
		for _, b := range rep.Bad {
			fmt.Printf("bad record %s\n", b)
		}
		if len(rep.Bad) > 0 {
			return fmt.Errorf("store: %d records in %s do not decode: run `cp7 store repair %s` to drop them", len(rep.Bad), dir, dir)
		}
		fmt.Printf("store: %s is readable\n", dir)
		return nil
	case "repair":
		return store.Repair(dir, os.Stdout)
	}
	return usage
}

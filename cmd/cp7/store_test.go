package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cp7/cp7/server/store"
)

func TestStoreFlags(t *testing.T) {
	o, err := parseFlags(nil)
	require.NoError(t, err)
	var sf *storeFlags
	for _, g := range o.groups {
		if f, ok := g.(*storeFlags); ok {
			sf = f
		}
	}
	require.NotNil(t, sf)
	require.Equal(t, "disk", sf.kind, "the binary keeps sessions on disk by default")
	require.Equal(t, "./data", sf.dir)
	require.Equal(t, "batch", sf.sync)
	require.Nil(t, o.cfg.Store, "the store is opened in prepare, not while parsing")

	for args, want := range map[string][]string{
		"-store":    {"-store", "rocks"},
		"-sync":     {"-sync", "always"},
		"-data-dir": {"-data-dir", ""},
	} {
		_, err := parseFlags(want)
		require.ErrorContains(t, err, args)
	}
}

func TestStoreCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st, err := store.Open(store.Options{Dir: dir, MinFree: 1})
	require.NoError(t, err)
	b := st.NewBatch()
	b.PutSession(&store.Session{ID: "a", Expiry: 10})
	done := make(chan error, 1)
	st.Submit(b, func(err error) { done <- err })
	require.NoError(t, <-done)
	require.NoError(t, st.Close())

	require.NoError(t, storeCommand([]string{"check", dir}))
	require.NoError(t, storeCommand([]string{"repair", dir}))
	require.ErrorContains(t, storeCommand([]string{"check"}), "usage: cp7 store check DIR")
	require.ErrorContains(t, storeCommand([]string{"fix", dir}), "usage")
	require.Error(t, storeCommand([]string{"check", filepath.Join(dir, "missing")}))
}

package main

import (
	"flag"
	"log/slog"
)

// liveSettings are the settings a SIGHUP applies to the running broker by
// value; the files behind other settings (certificates, password file, ACL)
// are re-read by their groups' reload hooks. Any other change is logged as
// needing a restart.
var liveSettings = map[string]func(o *options, value string) error{
	"log-level": func(o *options, v string) error {
		lv, err := parseLevel(v)
		if err == nil {
			o.level.Set(lv)
		}
		return err
	},
}

// reloadSettings re-reads the command line, CP7_* variables and the config
// file (SIGHUP) and logs every setting whose value changed: applied, or
// needing a restart. A file that no longer parses changes nothing.
func reloadSettings(args []string, cur *options, log *slog.Logger) {
	next, err := parseFlags(args)
	if err != nil {
		log.Error("SIGHUP: settings not reloaded; the running ones stay", "err", err)
		return
	}
	changed := 0
	next.fs.VisitAll(func(f *flag.Flag) {
		old := cur.fs.Lookup(f.Name)
		if old == nil || old.Value.String() == f.Value.String() {
			return
		}
		changed++
		from, to := masked(f.Name, old.Value.String()), masked(f.Name, f.Value.String())
		apply := liveSettings[f.Name]
		if apply == nil {
			log.Warn("SIGHUP: setting changed; it takes effect after a restart", "key", f.Name, "running", from, "new", to)
			return
		}
		if err := apply(cur, f.Value.String()); err != nil {
			log.Error("SIGHUP: setting not applied", "key", f.Name, "new", to, "err", err)
			return
		}
		_ = old.Value.Set(f.Value.String())
		log.Info("SIGHUP: setting applied", "key", f.Name, "was", from, "now", to)
	})
	if changed == 0 {
		log.Info("SIGHUP: no setting changed")
	}
}

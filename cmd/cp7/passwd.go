package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/cp7/cp7/server/auth/passwd"
)

func init() {
	subcommands["passwd"] = func(args []string) error { return runPasswd(args, os.Stdin, os.Stderr) }
}

// runPasswd is `cp7 passwd [-hash KIND] FILE USER` (the password from
// standard input, or asked twice without echo on a terminal) and
// `cp7 passwd -d FILE USER`. The file is created (mode 0600) if missing;
// its other lines stay as they are; it is replaced atomically.
func runPasswd(args []string, in *os.File, msg io.Writer) error {
	fs := flag.NewFlagSet("cp7 passwd", flag.ContinueOnError)
	fs.SetOutput(msg)
	del := fs.Bool("d", false, "delete USER from FILE")
	kind := fs.String("hash", string(passwd.Argon2id), "`KIND` of hash written: argon2id, bcrypt, pbkdf2-sha512 (Mosquitto's $7$, so mosquitto can read it too) or scram-sha-256 (salted SCRAM keys: MQTT 5 SCRAM-SHA-256 and plain CONNECT passwords both work)")
	fs.Usage = func() {
		fmt.Fprintf(msg, "Usage: cp7 passwd [-hash KIND] FILE USER   add or change USER (password from stdin, or asked on a terminal)\n       cp7 passwd -d FILE USER             delete USER\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("passwd: give FILE and USER")
	}
	file, user := fs.Arg(0), fs.Arg(1)
	if *del {
		return passwd.DeleteUser(file, user)
	}
	pw, err := readPassword(in, msg)
	if err != nil {
		return err
	}
	defer clear(pw)
	h, err := passwd.Hash(passwd.Kind(*kind), pw)
	if err != nil {
		return err
	}
	return passwd.SetUser(file, user, h)
}

// readPassword asks twice without echo on a terminal, else reads the first
// line of in.
func readPassword(in *os.File, msg io.Writer) ([]byte, error) {
	if term.IsTerminal(int(in.Fd())) {
		fmt.Fprint(msg, "Password: ")
		a, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(msg)
		if err != nil {
			return nil, fmt.Errorf("passwd: %w", err)
		}
		fmt.Fprint(msg, "Again: ")
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(msg)
		if err != nil {
			return nil, fmt.Errorf("passwd: %w", err)
		}
		if !bytes.Equal(a, b) {
			return nil, errors.New("passwd: the passwords differ; nothing written")
		}
		if len(a) == 0 {
			return nil, errors.New("passwd: empty password; nothing written")
		}
		return a, nil
	}
	line, err := bufio.NewReader(in).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("passwd: reading the password from standard input: %w", err)
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return nil, errors.New("passwd: no password on standard input; nothing written")
	}
	return line, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/actionledger/actionledger/api"
	"github.com/actionledger/actionledger/services/eventstore"
	"github.com/actionledger/actionledger/services/eventstore/boltstore"
)

// `actionledger backup` takes a consistent copy of the embedded store while
// it serves; `actionledger restore` checks a copy (the same verification as
// `audit verify`) before it becomes a data dir. Only one process may open
// events.db, so a running server is backed up through its admin route.

func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dataDir, serverURL, out string
	f := newFlags("backup", stderr)
	f.describe(stdout, `Takes a consistent copy of the embedded store (events.db) while the server keeps
serving writes, and prints the copy's head position, event count and hash. A running
server is copied through its admin route; a stopped one straight from its data dir.`,
		"ACTIONLEDGER_ADMIN_TOKEN=$ADMIN actionledger backup --server http://127.0.0.1:8080 --out ./events-backup.db",
		"actionledger backup --data-dir ./demo-data --out ./events-backup.db")
	f.String(&out, "out", "", "file to write the copy to (must not exist)")
	f.String(&dataDir, "data-dir", "", "copy the store in this data dir (the server must be stopped; else use --server)")
	f.String(&serverURL, "server", "", "copy a running server's store (GET /v1/admin/backup; needs ACTIONLEDGER_ADMIN_TOKEN)")
	if err := f.parse(args); err != nil {
		return err
	}
	if out == "" {
		return errors.New("backup: give --out FILE")
	}
	if (dataDir == "") == (serverURL == "") {
		return errors.New("backup: give --data-dir DIR (server stopped) or --server URL (server running)")
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("backup: %s exists; give a new file", out)
	}
	// The copy is written beside its final name and renamed once complete
	// and synced, so a backup cut short never looks like a backup.
	tmp, err := os.OpenFile(out+".partial", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	var info eventstore.BackupInfo
	if serverURL != "" {
		info, err = backupRemote(ctx, serverURL, os.Getenv("ACTIONLEDGER_ADMIN_TOKEN"), tmp)
	} else {
		info, err = backupOffline(ctx, dataDir, tmp)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(filepath.Dir(out)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "backup %s: %d events, head position %d, head hash %s, %d bytes\n",
		out, info.Events, info.Position, info.HeadHash, info.Bytes)
	return err
}

func backupOffline(ctx context.Context, dataDir string, w io.Writer) (eventstore.BackupInfo, error) {
	path := filepath.Join(dataDir, "events.db")
	if _, err := os.Stat(path); err != nil {
		return eventstore.BackupInfo{}, fmt.Errorf("no event store in %s: %w", dataDir, err)
	}
	store, err := boltstore.Open(path, boltstore.Options{OpenTimeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, boltstore.ErrDamaged) {
			return eventstore.BackupInfo{}, err
		}
		return eventstore.BackupInfo{}, fmt.Errorf("%w (is the server running? back it up with --server)", err)
	}
	defer store.Close()
	return store.Backup(ctx, func(eventstore.BackupInfo) (io.Writer, error) { return w, nil })
}

func backupRemote(ctx context.Context, base, token string, w io.Writer) (eventstore.BackupInfo, error) {
	var info eventstore.BackupInfo
	if token == "" {
		return info, errors.New("set ACTIONLEDGER_ADMIN_TOKEN")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/v1/admin/backup", nil)
	if err != nil {
		return info, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return info, fmt.Errorf("server answered %s: %s", resp.Status, body)
	}
	info.Position, _ = strconv.ParseUint(resp.Header.Get(api.HeaderBackupPosition), 10, 64)
	info.Events, _ = strconv.ParseUint(resp.Header.Get(api.HeaderBackupEvents), 10, 64)
	info.HeadHash = resp.Header.Get(api.HeaderBackupHeadHash)
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return info, fmt.Errorf("the copy was cut short after %d bytes: %w", n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return info, fmt.Errorf("the copy was cut short: %d of %d bytes", n, resp.ContentLength)
	}
	info.Bytes = n
	return info, nil
}

func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var from, dataDir string
	f := newFlags("restore", stderr)
	f.describe(stdout, `Checks a copy written by "actionledger backup" (the same hash-chain verification as
"audit verify") and only then makes it the events.db of a new, empty data dir.`,
		"actionledger restore --from ./events-backup.db --data-dir ./restored-data")
	f.String(&from, "from", "", "a copy written by `actionledger backup`")
	f.String(&dataDir, "data-dir", "", "the new data dir (must be empty or missing)")
	if err := f.parse(args); err != nil {
		return err
	}
	if from == "" || dataDir == "" {
		return errors.New("restore: give --from FILE and --data-dir DIR")
	}
	if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("restore: %s is not empty; restore into a new or empty data dir", dataDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The copy is checked in a staging dir inside the target: a restore
	// cut short leaves the target non-empty and without events.db, so it
	// can neither be served nor restored over by mistake.
	staging := filepath.Join(dataDir, ".restoring")
	if err := os.Mkdir(staging, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	staged := filepath.Join(staging, "events.db")
	if err := copyFile(from, staged); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	c := &auditCLI{stdout: stdout, stderr: stderr, dataDir: staging}
	closeStore, err := c.openOffline(ctx)
	if err != nil {
		_ = os.RemoveAll(staging)
		return fmt.Errorf("restore: %s: %w", from, err)
	}
	v, err := c.verifyOffline(ctx)
	closeStore()
	if err == nil && !v.Intact {
		err = fmt.Errorf("the chain is broken at position %d: %s", v.BrokenAt, v.Reason)
	}
	if err != nil {
		_ = os.RemoveAll(staging)
		return fmt.Errorf("restore: %s not restored: %w", from, err)
	}
	final := filepath.Join(dataDir, "events.db")
	if err := os.Rename(staged, final); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The check's close left the index image beside the copy: it is the
	// copy's, and spares the first start rebuilding the index.
	if err := os.Rename(boltstore.ImagePath(staged), boltstore.ImagePath(final)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.Remove(staging); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(dataDir); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "restored %s into %s: verified %d events, head position %d, head hash %s\n",
		from, final, v.Count, v.HeadPosition, v.HeadHash)
	return err
}

// copyFile copies from to a new file to, synced.
func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		_ = dst.Close()
		return err
	}
	return dst.Close()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

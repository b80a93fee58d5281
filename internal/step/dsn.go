package step

import (
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// openDSN opens a database from a DSN into which secrets (the sensitive
// values) may have been interpolated as they are: "postgres://app:${var.pw}@db/x"
// with a password holding @ / : ? # or a space. Each secret is swapped for a
// placeholder of plain letters before the driver's own parser reads the
// DSN, and put back into the parsed configuration afterwards, so that the
// password reaches the server whole (a parser that stops at its @ would
// otherwise take the rest for a host name and look it up over DNS) and
// no parse error can print it. It returns the password the driver will
// send, to be redacted wherever the database's errors are shown.
//
// PostgreSQL takes a URL (postgres://, postgresql://) or key=value
// settings (pgx.ParseConfig); MySQL takes go-sql-driver's
// user:password@tcp(host:port)/db form (mysql.ParseDSN) or a mysql:// URL.
func openDSN(driver, dsn string, secrets []string) (*sql.DB, string, error) {
	masked, restore, unmask := placeholders(dsn, secrets)
	switch driver {
	case "postgres":
		cfg, err := pgx.ParseConfig(masked)
		if err != nil {
			return nil, "", fmt.Errorf("%s", unmask(err.Error()))
		}
		cfg.Host, cfg.User, cfg.Password, cfg.Database = restore(cfg.Host), restore(cfg.User), restore(cfg.Password), restore(cfg.Database)
		for k, v := range cfg.RuntimeParams {
			cfg.RuntimeParams[k] = restore(v)
		}
		for _, f := range cfg.Fallbacks {
			f.Host = restore(f.Host)
		}
		return stdlib.OpenDB(*cfg), cfg.Password, nil
	case "mysql":
		cfg, err := parseMySQL(masked)
		if err != nil {
			return nil, "", fmt.Errorf("%s", unmask(err.Error()))
		}
		cfg.User, cfg.Passwd, cfg.DBName, cfg.Addr = restore(cfg.User), restore(cfg.Passwd), restore(cfg.DBName), restore(cfg.Addr)
		for k, v := range cfg.Params {
			cfg.Params[k] = restore(v)
		}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, "", fmt.Errorf("%s", unmask(err.Error()))
		}
		return sql.OpenDB(conn), cfg.Passwd, nil
	}
	return nil, "", fmt.Errorf("unknown driver %q", driver)
}

// parseMySQL reads go-sql-driver's DSN or a mysql:// URL.
func parseMySQL(dsn string) (*mysql.Config, error) {
	if !strings.HasPrefix(dsn, "mysql://") {
		return mysql.ParseDSN(dsn)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("the DSN is not a valid mysql:// URL: %w", err)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	cfg, err := mysql.ParseDSN("tcp(" + addr + ")" + u.EscapedPath() + "?" + u.RawQuery)
	if err != nil {
		return nil, err
	}
	if cfg.DBName, err = url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/")); err != nil {
		return nil, fmt.Errorf("the database name in the DSN: %w", err)
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	return cfg, nil
}

// placeholders swaps the secrets found in s (longest first) for
// placeholders: restore puts them back in a parsed field, unmask writes
// [REDACTED] for them in a message.
func placeholders(s string, secrets []string) (masked string, restore, unmask func(string) string) {
	secrets = append([]string(nil), secrets...)
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	var back, red []string
	for i, sec := range secrets {
		// A secret that is a DSN itself (a sensitive dsn variable, a
		// local built from the password) is left for the parser.
		if sec == "" || !strings.Contains(s, sec) || sec == s || strings.Contains(sec, "://") || strings.Contains(sec, "@tcp(") || strings.Contains(sec, "host=") {
			continue
		}
		ph := "cloudtestsecret" + strconv.Itoa(i) + "z"
		s = strings.ReplaceAll(s, sec, ph)
		back = append(back, ph, sec)
		red = append(red, ph, Redacted)
	}
	if len(back) == 0 {
		same := func(x string) string { return x }
		return s, same, same
	}
	rb, rr := strings.NewReplacer(back...), strings.NewReplacer(red...)
	return s, rb.Replace, rr.Replace
}

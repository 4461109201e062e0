//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// helpers is the section of the credential helpers: the whole-process
// time of 'authc header', 'authc kubectl' (as kubectl runs it, with a
// client.authentication.k8s.io/v1 request in $KUBERNETES_EXEC_INFO),
// 'git-credential-authd get' and 'docker-credential-authd get' (their
// requests on stdin, as git and docker send them) and 'authc exec -- true'
// on a cached token, each beside 'authc token' in the same hyperfine
// rounds. The commands run through sh, for the redirections of stdin;
// hyperfine subtracts the shell's own start from every figure alike. Each costs one authc start and one GetToken, as
// 'authc token' does: the target is 1.2x of it. 'authc exec' then becomes
// true (execve), whose start is in its figure: true alone is measured
// beside it, and the figure without it is shown too.
func (b *bench) helpers(ctx context.Context) error {
	d, err := b.mainDaemon(ctx)
	if err != nil {
		return err
	}
	authc := filepath.Join(b.bin, "authc")
	truePath, err := exec.LookPath("true")
	if err != nil {
		return err
	}
	execInfo := `{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}`
	env := environ("AUTHD_SOCKET="+d.sock, "AUTHD_CONFIG="+d.config, "KUBERNETES_EXEC_INFO="+execInfo)
	gitRequest := filepath.Join(b.work, "git-credential-request")
	dockerRequest := filepath.Join(b.work, "docker-credential-request")
	gitHelper := filepath.Join(b.work, "git-credential-authd")
	dockerHelper := filepath.Join(b.work, "docker-credential-authd")
	for path, content := range map[string]string{
		gitRequest:    "protocol=https\nhost=git.example.com\npath=team/repo.git\n\n",
		dockerRequest: "registry.example.com\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	for _, link := range []string{gitHelper, dockerHelper} {
		_ = os.Remove(link)
		if err := os.Symlink(authc, link); err != nil {
			return err
		}
	}
	commands := []struct{ name, line, check string }{
		{"authc token", authc + " token", ""},
		{"authc header", authc + " header", "Authorization: Bearer "},
		{"authc kubectl", authc + " kubectl", `"kind":"ExecCredential"`},
		{"git-credential-authd get", gitHelper + " -p work get < " + gitRequest, "password="},
		{"docker-credential-authd get", dockerHelper + " -p work get < " + dockerRequest, `"Secret":`},
		{"authc exec -- true", authc + " exec -- " + truePath, ""},
		{"true", truePath, ""},
	}
	for _, c := range commands {
		cmd := exec.CommandContext(ctx, "sh", "-c", c.line)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), c.check) {
			return fmt.Errorf("%s: %v (%d bytes out)", c.line, err, len(out))
		}
	}

	timed := make([]timedCommand, len(commands))
	for i, c := range commands {
		timed[i] = timedCommand{c.name, c.line}
	}
	times, _, err := b.hyperfineRounds(ctx, "hyperfine-helpers", false, env, timed)
	if err != nil {
		return err
	}
	rounds := b.plan.hyperfineRounds
	token := interquartile(times["authc token"])
	runs := fmt.Sprintf("%d runs in %d rounds, hyperfine through sh", len(times["authc token"]), rounds)
	b.add("6", "`authc token`, cached token, whole process, in the rounds of the helpers ("+runs+")", token.format(timeUnit))
	for _, c := range commands[1 : len(commands)-1] {
		s := interquartile(times[c.name])
		b.add("6", "`"+c.name+"`, whole process", s.format(timeUnit))
		ratio := s.Median / token.Median
		b.check("6", "ratio `"+c.name+"` / `authc token` (medians)", fmt.Sprintf("%.2fx", ratio), "≤ 1.2x", ratio <= 1.2)
	}
	trueS, execS := interquartile(times["true"]), interquartile(times["authc exec -- true"])
	b.add("6", "`true` alone, whole process (what `authc exec -- true` execs)", trueS.format(timeUnit))
	b.add("6", "(`authc exec -- true` − `true`) / `authc token`: exec's own cost (medians)", fmt.Sprintf("%.2fx", (execS.Median-trueS.Median)/token.Median))
	return nil
}

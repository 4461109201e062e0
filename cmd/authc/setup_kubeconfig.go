package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// authc edits a kubeconfig without a YAML library, which would cost every
// start of authc (and which would drop the file's comments and order
// anyway). It reads the file's lines as kubectl writes them, block style:
// the top-level keys, and the items of the users and contexts lists by
// indentation, which YAML makes the only boundary in block style. It
// refuses what it does not follow where it would edit (flow style,
// anchors and aliases, tags, merge keys, tabs, several documents, JSON),
// and edits by replacing or inserting whole lines: every other line of the
// file stays as it was, byte for byte.

// kubeconfigDoc is a kubeconfig's lines, with what authc edits located.
type kubeconfigDoc struct {
	path  string
	lines []string
	lists map[string]*kubeList // "users", "contexts"
}

// kubeList is a top-level key whose value is a list of named entries.
type kubeList struct {
	line      int    // the key's line
	inline    string // a value on the key's line: "", "[]", "null" or "~"
	seqIndent int    // the indent of its "- " lines; -1 before the first
	items     []*kubeItem
	last      int // the index after the last line of its value
}

// kubeItem is one entry of a list: a block mapping after "- ".
type kubeItem struct {
	start, end int            // its lines, [start, end), through its last significant one
	keyIndent  int            // the indent of its keys
	keys       map[string]int // its keys' lines
	name       string
	fancy      string // why editing it is unsafe (an anchor, alias, tag or merge key), "" when it is not
}

// uneditableError is a kubeconfig that authc does not edit, and why.
type uneditableError struct {
	path string
	line int // 1-based; 0 for the whole file
	why  string
}

func (e *uneditableError) Error() string {
	where := e.path
	if e.line > 0 {
		where += ":" + strconv.Itoa(e.line)
	}
	return fmt.Sprintf("authc does not edit %s: %s; add the user that 'authc setup kubectl' prints by hand", printable(where), e.why)
}

// significant reports whether a line is neither blank nor a comment.
func significant(line string) bool {
	t := strings.TrimLeft(line, " ")
	return t != "" && t[0] != '#'
}

// parseKubeconfig locates the users and contexts lists of a kubeconfig.
func parseKubeconfig(path string, data []byte) (*kubeconfigDoc, error) {
	bad := func(i int, format string, args ...any) error {
		return &uneditableError{path: path, line: i + 1, why: fmt.Sprintf(format, args...)}
	}
	switch {
	case bytes.HasPrefix(data, []byte("\xef\xbb\xbf")):
		return nil, &uneditableError{path: path, why: "it starts with a byte order mark"}
	case bytes.IndexByte(data, '\r') >= 0:
		return nil, &uneditableError{path: path, why: "it has CR LF line ends"}
	case bytes.IndexByte(data, 0) >= 0:
		return nil, &uneditableError{path: path, why: "it has a NUL byte in it"}
	}
	text := strings.TrimSuffix(string(data), "\n")
	doc := &kubeconfigDoc{path: path, lists: map[string]*kubeList{}}
	if text != "" {
		doc.lines = strings.Split(text, "\n")
	}
	seen := map[string]bool{}
	var list *kubeList // the list whose value the lines are in; nil in another key's
	var item *kubeItem
	first := true
	for i, line := range doc.lines {
		if !significant(line) {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		body := line[indent:]
		if body[0] == '\t' {
			return nil, bad(i, "a tab in the indentation")
		}
		if first {
			first = false
			if indent > 0 {
				return nil, bad(i, "the top-level keys are indented")
			}
			if body == "---" {
				continue
			}
		}
		if indent == 0 && (body == "---" || strings.HasPrefix(body, "--- ") || body == "..." || body[0] == '%') {
			return nil, bad(i, "several YAML documents, or a directive")
		}
		if indent == 0 && body[0] != '-' {
			key, value, err := splitYAMLKey(body)
			if err != nil {
				return nil, bad(i, "%v", err)
			}
			if seen[key] {
				return nil, bad(i, "the key %s a second time", printable(key))
			}
			seen[key] = true
			list, item = nil, nil
			if key != "users" && key != "contexts" {
				continue
			}
			v, err := yamlValue(value)
			if err != nil {
				return nil, bad(i, "%s: %v", key, err)
			}
			switch v {
			case "", "[]", "null", "~":
			default:
				return nil, bad(i, "%s is not a list in block style", key)
			}
			list = &kubeList{line: i, inline: v, seqIndent: -1, last: i + 1}
			doc.lists[key] = list
			continue
		}
		if list == nil {
			continue // a line of another key's value
		}
		if list.inline != "" {
			return nil, bad(i, "a value both on the line of the key and below it")
		}
		if list.seqIndent < 0 {
			if !strings.HasPrefix(body, "- ") {
				return nil, bad(i, "a list entry that does not start with \"- \"")
			}
			list.seqIndent = indent
		}
		switch {
		case indent < list.seqIndent:
			return nil, bad(i, "an entry indented less than the ones before it")
		case indent == list.seqIndent:
			if !strings.HasPrefix(body, "- ") {
				return nil, bad(i, "a list entry that does not start with \"- \"")
			}
			rest := body[2:]
			trimmed := strings.TrimLeft(rest, " ")
			item = &kubeItem{start: i, keyIndent: indent + 2 + len(rest) - len(trimmed), keys: map[string]int{}}
			list.items = append(list.items, item)
			if err := item.addKey(trimmed, i); err != nil {
				return nil, bad(i, "%v", err)
			}
		case indent < item.keyIndent:
			return nil, bad(i, "a line indented between an entry's dash and its keys")
		case indent == item.keyIndent:
			if err := item.addKey(body, i); err != nil {
				return nil, bad(i, "%v", err)
			}
		default:
			// A line of the value of one of the entry's keys.
			item.noteFancy(body, i)
		}
		item.end = i + 1
		list.last = i + 1
	}
	for key, list := range doc.lists {
		names := map[string]bool{}
		for _, it := range list.items {
			if _, ok := it.keys["name"]; !ok {
				return nil, bad(it.start, "an entry of %s without a name", key)
			}
			if names[it.name] {
				return nil, bad(it.start, "two entries of %s named %s", key, printable(it.name))
			}
			names[it.name] = true
		}
	}
	return doc, nil
}

// addKey records a "key: value" line of an item's mapping.
func (it *kubeItem) addKey(body string, line int) error {
	key, value, err := splitYAMLKey(body)
	if err != nil {
		return err
	}
	if _, dup := it.keys[key]; dup {
		return fmt.Errorf("the key %s twice in one entry", printable(key))
	}
	it.keys[key] = line
	if key == "name" {
		name, err := yamlValue(value)
		if err != nil {
			return fmt.Errorf("name: %v", err)
		}
		it.name = name
		return nil
	}
	it.noteFancy(body, line)
	return nil
}

// noteFancy marks the item unsafe to edit when a line of it has an anchor,
// alias, tag or merge key: another part of the file may lean on it, or it
// on another.
func (it *kubeItem) noteFancy(body string, line int) {
	if it.fancy != "" {
		return
	}
	value := strings.TrimLeft(strings.TrimPrefix(body, "-"), " ")
	if k, v, err := splitYAMLKey(value); err == nil {
		if k == "<<" {
			it.fancy = fmt.Sprintf("line %d has a merge key", line+1)
			return
		}
		value = strings.TrimLeft(v, " ")
	}
	if value != "" && strings.ContainsRune("&*!", rune(value[0])) {
		it.fancy = fmt.Sprintf("line %d has an anchor, alias or tag", line+1)
	}
}

// splitYAMLKey splits "key: value" (or "key:" ending the line) whose key
// is a plain scalar.
func splitYAMLKey(body string) (key, value string, err error) {
	notKey := errors.New("a line that is no plain \"key: value\"")
	if body == "" || strings.ContainsRune("\"'{[&*!|>?%@`#", rune(body[0])) || body[0] == '-' && (len(body) == 1 || body[1] == ' ') {
		return "", "", notKey
	}
	i := strings.Index(body, ": ")
	if i < 0 {
		if !strings.HasSuffix(body, ":") {
			return "", "", notKey
		}
		i = len(body) - 1
	}
	key = strings.TrimRight(body[:i], " ")
	if key == "" || strings.Contains(key, " #") {
		return "", "", notKey
	}
	return key, strings.TrimLeft(body[i+1:], " "), nil
}

// yamlValue reads a scalar value as YAML does, with its comment: plain,
// 'single-quoted' or "double-quoted" (escaping only \" and \\), on one
// line. Anything else (a flow collection, a block scalar, an anchor, alias
// or tag) is an error.
func yamlValue(v string) (string, error) {
	v = strings.TrimLeft(v, " ")
	if v == "" || v[0] == '#' {
		return "", nil
	}
	comment := func(rest string) error {
		if t := strings.TrimLeft(rest, " "); t != "" && (t[0] != '#' || len(t) == len(rest)) {
			return errors.New("text after a quoted value")
		}
		return nil
	}
	switch v[0] {
	case '"':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '"':
				return b.String(), comment(v[i+1:])
			case '\\':
				if i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\') {
					b.WriteByte(v[i+1])
					i++
					continue
				}
				return "", errors.New("an escape other than \\\" or \\\\ in a quoted value")
			}
			b.WriteByte(v[i])
		}
		return "", errors.New("a quoted value that goes on past its line")
	case '\'':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			if v[i] == '\'' {
				if i+1 < len(v) && v[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				return b.String(), comment(v[i+1:])
			}
			b.WriteByte(v[i])
		}
		return "", errors.New("a quoted value that goes on past its line")
	case '[':
		if rest := v[1:]; strings.HasPrefix(rest, "]") && comment(rest[1:]) == nil {
			return "[]", nil // an empty list
		}
		return "", errors.New("a value in flow style, a block scalar, an anchor, alias or tag")
	case '&', '*', '!', '|', '>', '{', '%', '@', '`':
		return "", errors.New("a value in flow style, a block scalar, an anchor, alias or tag")
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimRight(v, " ")
	if strings.Contains(v, ": ") || strings.HasSuffix(v, ":") {
		return "", errors.New("a mapping where a value should be")
	}
	return v, nil
}

// find returns the item of list key named name, or nil.
func (d *kubeconfigDoc) find(key, name string) *kubeItem {
	if l := d.lists[key]; l != nil {
		for _, it := range l.items {
			if it.name == name {
				return it
			}
		}
	}
	return nil
}

// contextUser returns the user of context it: the value of its context's
// user key, and where that line is (-1 when it has none). mapIndent is the
// indent of the context mapping's keys.
func (d *kubeconfigDoc) contextUser(it *kubeItem) (user string, line, mapIndent int, err error) {
	bad := func(i int, format string, args ...any) error {
		return &uneditableError{path: d.path, line: i + 1, why: fmt.Sprintf(format, args...)}
	}
	kl, ok := it.keys["context"]
	if !ok {
		return "", 0, 0, bad(it.start, "context %s has no context: mapping", printable(it.name))
	}
	body := strings.TrimLeft(d.lines[kl], " ")
	body = strings.TrimLeft(strings.TrimPrefix(body, "- "), " ")
	_, value, err := splitYAMLKey(body)
	if err != nil {
		return "", 0, 0, bad(kl, "%v", err)
	}
	if v, err := yamlValue(value); err != nil || v != "" {
		return "", 0, 0, bad(kl, "the context of %s is not a mapping in block style", printable(it.name))
	}
	line, mapIndent = -1, -1
	for i := kl + 1; i < it.end; i++ {
		l := d.lines[i]
		if !significant(l) {
			continue
		}
		indent := len(l) - len(strings.TrimLeft(l, " "))
		if indent <= it.keyIndent {
			break // the next key of the entry
		}
		if mapIndent < 0 {
			mapIndent = indent
		}
		switch {
		case indent < mapIndent:
			return "", 0, 0, bad(i, "a line indented less than the keys above it")
		case indent > mapIndent:
			continue
		}
		k, v, err := splitYAMLKey(l[indent:])
		if err != nil {
			return "", 0, 0, bad(i, "%v", err)
		}
		if k == "user" {
			if user, err = yamlValue(v); err != nil {
				return "", 0, 0, bad(i, "user: %v", err)
			}
			line = i
		}
	}
	if mapIndent < 0 {
		mapIndent = it.keyIndent + 2
	}
	return user, line, mapIndent, nil
}

// lineEdit replaces del lines at at with ins.
type lineEdit struct {
	at, del int
	ins     []string
}

// kubeconfigEdit is the result of setKubeUser: the file's new text, and
// the user the context had.
type kubeconfigEdit struct {
	data      []byte
	oldUser   string
	unchanged bool
}

// setKubeUser adds user u to doc, or replaces the user of that name, and
// points context contextName at it.
func (d *kubeconfigDoc) setKubeUser(contextName string, u kubeUser) (*kubeconfigEdit, error) {
	ctxItem := d.find("contexts", contextName)
	if ctxItem == nil {
		return nil, fmt.Errorf("%s has no context %s ('kubectl config get-contexts' lists them)", printable(d.path), printable(contextName))
	}
	if ctxItem.fancy != "" {
		return nil, &uneditableError{path: d.path, why: fmt.Sprintf("context %s: %s", printable(contextName), ctxItem.fancy)}
	}
	oldUser, userLine, mapIndent, err := d.contextUser(ctxItem)
	if err != nil {
		return nil, err
	}
	var edits []lineEdit
	userLineText := strings.Repeat(" ", mapIndent) + "user: " + yamlScalar(u.name())
	if userLine >= 0 {
		if d.lines[userLine] != userLineText {
			edits = append(edits, lineEdit{at: userLine, del: 1, ins: []string{userLineText}})
		}
	} else {
		edits = append(edits, lineEdit{at: ctxItem.keys["context"] + 1, ins: []string{userLineText}})
	}

	users := d.lists["users"]
	switch {
	case users == nil:
		at := len(d.lines)
		edits = append(edits, lineEdit{at: at, ins: append([]string{"users:"}, u.yaml(0)...)})
	case users.inline != "":
		edits = append(edits, lineEdit{at: users.line, del: 1, ins: append([]string{"users:"}, u.yaml(0)...)})
	default:
		indent := max(users.seqIndent, 0)
		stanza := u.yaml(indent)
		if old := d.find("users", u.name()); old != nil {
			if old.fancy != "" {
				return nil, &uneditableError{path: d.path, why: fmt.Sprintf("user %s: %s", printable(u.name()), old.fancy)}
			}
			if !slices.Equal(d.lines[old.start:old.end], stanza) {
				edits = append(edits, lineEdit{at: old.start, del: old.end - old.start, ins: stanza})
			}
		} else {
			edits = append(edits, lineEdit{at: users.last, ins: stanza})
		}
	}
	if len(edits) == 0 {
		return &kubeconfigEdit{oldUser: oldUser, unchanged: true}, nil
	}
	// From the bottom up, so that each edit's line numbers hold.
	slices.SortFunc(edits, func(a, b lineEdit) int { return b.at - a.at })
	lines := slices.Clone(d.lines)
	for _, e := range edits {
		lines = slices.Replace(lines, e.at, e.at+e.del, e.ins...)
	}
	data := []byte(strings.Join(lines, "\n") + "\n")

	// Read back what was written: the context must name the user, and the
	// user be there once, as written.
	check, err := parseKubeconfig(d.path, data)
	if err != nil {
		return nil, fmt.Errorf("the edited %s does not read back (%v); it was left as it was", printable(d.path), err)
	}
	it := check.find("contexts", contextName)
	var got string
	if it != nil {
		got, _, _, err = check.contextUser(it)
	}
	nu := check.find("users", u.name())
	if it == nil || err != nil || got != u.name() || nu == nil ||
		!slices.Equal(check.lines[nu.start:nu.end], u.yaml(max(check.lists["users"].seqIndent, 0))) {
		return nil, fmt.Errorf("the edited %s does not read back as meant; it was left as it was", printable(d.path))
	}
	return &kubeconfigEdit{data: data, oldUser: oldUser}, nil
}

// kubeconfigFiles is where kubectl reads its configuration: --kubeconfig,
// else the files of $KUBECONFIG, else ~/.kube/config.
func kubeconfigFiles(explicit string) ([]string, error) {
	if explicit != "" {
		return []string{explicit}, nil
	}
	var files []string
	for _, f := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
		if f != "" && !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	if len(files) > 0 {
		return files, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, fmt.Errorf("no $KUBECONFIG, and no home directory for ~/.kube/config: %w", err)
	}
	return []string{filepath.Join(home, ".kube", "config")}, nil
}

// kubeconfigWrite is what writeKubeconfig did.
type kubeconfigWrite struct {
	path      string
	oldUser   string
	unchanged bool
}

// writeKubeconfig sets u up for context contextName in the first of files
// that defines the context, as kubectl reads them (the first file to
// define a name wins). The write holds kubectl's lock, FILE.lock, and
// replaces the file in one rename; the file is left as it was when
// anything fails.
func writeKubeconfig(files []string, contextName string, u kubeUser) (*kubeconfigWrite, error) {
	var earlier []*kubeconfigDoc
	for _, path := range files {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the kubeconfig: %w", err)
		}
		doc, err := parseKubeconfig(path, data)
		if err != nil {
			return nil, err
		}
		if doc.find("contexts", contextName) == nil {
			earlier = append(earlier, doc)
			continue
		}
		for _, e := range earlier {
			if e.find("users", u.name()) != nil {
				return nil, fmt.Errorf("%s, read before %s, has a user %s already, which would hide the one authc writes; remove it, or use -p to name another", printable(e.path), printable(path), printable(u.name()))
			}
		}
		return writeKubeconfigFile(path, contextName, u)
	}
	if len(files) == 1 {
		if _, err := os.Stat(files[0]); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("there is no kubeconfig at %s (--kubeconfig names another)", printable(files[0]))
		}
		return nil, fmt.Errorf("%s has no context %s ('kubectl config get-contexts' lists them)", printable(files[0]), printable(contextName))
	}
	return nil, fmt.Errorf("no file of $KUBECONFIG (%s) has a context %s ('kubectl config get-contexts' lists them)", printable(strings.Join(files, string(filepath.ListSeparator))), printable(contextName))
}

// writeKubeconfigFile edits the kubeconfig at path under kubectl's lock.
func writeKubeconfigFile(path, contextName string, u kubeUser) (*kubeconfigWrite, error) {
	// kubectl's lock: the file's name plus .lock, created exclusively
	// (client-go's clientcmd.lockFile).
	lock := path + ".lock"
	lf, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: kubectl is writing the kubeconfig (try again), or one that did was killed (then remove the file)", printable(lock))
	}
	if err != nil {
		return nil, fmt.Errorf("lock the kubeconfig: %w", err)
	}
	lf.Close()
	defer os.Remove(lock)

	// The file a link names is the one to replace; the link stays.
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig: %w", err)
	}
	data, err := os.ReadFile(target)
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig: %w", err)
	}
	doc, err := parseKubeconfig(path, data)
	if err != nil {
		return nil, err
	}
	edit, err := doc.setKubeUser(contextName, u)
	if err != nil {
		return nil, err
	}
	res := &kubeconfigWrite{path: path, oldUser: edit.oldUser, unchanged: edit.unchanged}
	if edit.unchanged {
		return res, nil
	}
	if err := replaceFile(target, data, edit.data); err != nil {
		return nil, fmt.Errorf("write the kubeconfig %s: %w", printable(path), err)
	}
	return res, nil
}

// replaceFile replaces the file at path, which held old, with data: a new
// file of mode 0600 beside it, synced, renamed over it. A writer that
// does not take kubectl's lock and changed the file meanwhile makes it
// fail rather than lose that change.
func replaceFile(path string, old, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".authd-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, old) {
		return errors.New("it changed while authc edited it; nothing was written, run the command again")
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename itself lasts once the directory is synced (where the
	// platform can).
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

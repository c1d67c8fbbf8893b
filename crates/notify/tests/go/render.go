// Renders the template corpus with Go's own text/template, over data shaped like the
// original watchtower's template data, for the differential test in ../go_differential.rs.
//
// Usage: go run render.go DATA.json CORPUS.txt
//
// DATA.json is written by the Rust test from notify's real model (entries and report), so
// both sides render the same data. Run it with TZ=Europe/Berlin: entry times are shown in
// time.Local, as the original's log entries are.
//
// Output: one JSON object per case, one per line:
// {"name": "...", "class": "output" | "parse" | "exec", "hex": "<output bytes in hex>"}.
// The output of a failed case is empty (Go's partial output is not compared).
//
// Standard library only: Title is written here after golang.org/x/text/cases' Title for the
// inputs the corpus uses (first letter of a word in title case, the rest in lower case).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/template"
	"time"
	"unicode"
)

// Level is shaped like logrus.Level: a named integer with String and MarshalText.
type Level uint32

var levelNames = []string{"panic", "fatal", "error", "warning", "info", "debug", "trace"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "unknown"
}

// MarshalText makes JSON print the name, as logrus does.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func parseLevel(name string) Level {
	for i, n := range levelNames {
		if n == name {
			return Level(i)
		}
	}
	panic("unknown level " + name)
}

// Logger stands for *logrus.Logger; entries here carry none.
type Logger struct{}

// Entry is shaped like logrus.Entry: its exported fields in logrus' order.
type Entry struct {
	Logger  *Logger
	Data    map[string]interface{}
	Time    time.Time
	Level   Level
	Caller  *runtime.Frame
	Message string
	Buffer  *bytes.Buffer
	Context context.Context
	err     string
}

// ContainerID and ImageID are shaped like the original's types: strings with ShortID.
type ContainerID string

// ImageID is an image's ID.
type ImageID string

func shortID(id string) string {
	start, n := 0, 12
	if sep := strings.IndexByte(id, ':'); sep >= 0 {
		if id[:sep] == "sha256" {
			start = sep + 1
		} else {
			n += sep + 1
		}
	}
	if len(id) < start+n {
		return id
	}
	return id[start : start+n]
}

// ShortID is the short form of the ID.
func (id ContainerID) ShortID() string { return shortID(string(id)) }

// ShortID is the short form of the ID.
func (id ImageID) ShortID() string { return shortID(string(id)) }

// ContainerReport is the original's interface of one container's result.
type ContainerReport interface {
	ID() ContainerID
	Name() string
	CurrentImageID() ImageID
	LatestImageID() ImageID
	ImageName() string
	Error() string
	State() string
}

// Report is the original's interface of a session's report.
type Report interface {
	Scanned() []ContainerReport
	Updated() []ContainerReport
	Failed() []ContainerReport
	Skipped() []ContainerReport
	Stale() []ContainerReport
	Fresh() []ContainerReport
	All() []ContainerReport
}

// containerStatus has unexported fields only, as the original's session.ContainerStatus.
type containerStatus struct {
	id, current, latest              string
	name, image, errorText, stateStr string
	failedStep                       string
	restored                         bool
}

// FailedStep and Restored are this project's additions (docs/notifications.md documents them).
func (c *containerStatus) FailedStep() string { return c.failedStep }

// Restored tells whether the old container was put back.
func (c *containerStatus) Restored() bool { return c.restored }

func (c *containerStatus) ID() ContainerID         { return ContainerID(c.id) }
func (c *containerStatus) Name() string            { return c.name }
func (c *containerStatus) CurrentImageID() ImageID { return ImageID(c.current) }
func (c *containerStatus) LatestImageID() ImageID  { return ImageID(c.latest) }
func (c *containerStatus) ImageName() string       { return c.image }
func (c *containerStatus) Error() string           { return c.errorText }
func (c *containerStatus) State() string           { return c.stateStr }

type report struct {
	scanned, updated, failed, skipped, stale, fresh, all, restored []ContainerReport
}

// Restored is this project's addition: failed containers whose old container was put back.
func (r *report) Restored() []ContainerReport { return r.restored }

func (r *report) Scanned() []ContainerReport { return r.scanned }
func (r *report) Updated() []ContainerReport { return r.updated }
func (r *report) Failed() []ContainerReport  { return r.failed }
func (r *report) Skipped() []ContainerReport { return r.skipped }
func (r *report) Stale() []ContainerReport   { return r.stale }
func (r *report) Fresh() []ContainerReport   { return r.fresh }
func (r *report) All() []ContainerReport     { return r.all }

// StaticData is the original's title and host.
type StaticData struct {
	Title string
	Host  string
}

// Data is the original's report-mode template data.
type Data struct {
	StaticData
	Entries []*Entry
	Report  Report
}

type jsonMap = map[string]interface{}

func containersJSON(list []ContainerReport) []jsonMap {
	out := make([]jsonMap, 0, len(list))
	for _, c := range list {
		m := jsonMap{
			"id":             c.ID().ShortID(),
			"name":           c.Name(),
			"currentImageId": c.CurrentImageID().ShortID(),
			"latestImageId":  c.LatestImageID().ShortID(),
			"imageName":      c.ImageName(),
			"state":          c.State(),
		}
		if e := c.Error(); e != "" {
			m["error"] = e
		}
		out = append(out, m)
	}
	return out
}

// MarshalJSON writes what the original's Data.MarshalJSON writes.
func (d Data) MarshalJSON() ([]byte, error) {
	entries := make([]jsonMap, 0, len(d.Entries))
	for _, e := range d.Entries {
		entries = append(entries, jsonMap{"level": e.Level, "message": e.Message, "data": e.Data, "time": e.Time})
	}
	var rep jsonMap
	if d.Report != nil {
		rep = jsonMap{
			"scanned": containersJSON(d.Report.Scanned()),
			"updated": containersJSON(d.Report.Updated()),
			"failed":  containersJSON(d.Report.Failed()),
			"skipped": containersJSON(d.Report.Skipped()),
			"stale":   containersJSON(d.Report.Stale()),
			"fresh":   containersJSON(d.Report.Fresh()),
		}
	}
	return json.Marshal(jsonMap{"report": rep, "title": d.Title, "host": d.Host, "entries": entries})
}

func toJSON(v interface{}) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("failed to marshal JSON in notification template: %v", err)
	}
	return string(b)
}

// title upper-cases (title-cases) the first letter of each word and lower-cases the rest.
func title(s string) string {
	rs := []rune(s)
	var b strings.Builder
	inWord := false
	for i, r := range rs {
		wordChar := unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) || r == '_'
		if wordChar {
			if inWord {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToTitle(r))
			}
			inWord = true
			continue
		}
		b.WriteRune(r)
		joiner := r == '\'' || r == '’' || r == '.' || r == ':'
		inWord = joiner && inWord && i+1 < len(rs) && unicode.IsLetter(rs[i+1])
	}
	return b.String()
}

var funcs = template.FuncMap{
	"ToUpper": strings.ToUpper,
	"ToLower": strings.ToLower,
	"ToJSON":  toJSON,
	"Title":   title,
}

// The data file the Rust test writes.
type dataFile struct {
	Title   string `json:"title"`
	Host    string `json:"host"`
	Entries []struct {
		Level   string                     `json:"level"`
		Message string                     `json:"message"`
		Time    string                     `json:"time"`
		Fields  map[string]json.RawMessage `json:"fields"`
	} `json:"entries"`
	Report map[string][]struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Image   string `json:"image_name"`
		Current string `json:"current_image_id"`
		Latest  string `json:"latest_image_id"`
		State   string `json:"state"`
		Error   string `json:"error"`
		Step    string `json:"failed_step"`
		Back    bool   `json:"restored"`
	} `json:"report"`
}

// field decodes {"str": ...} / {"int": ...} / {"float": ...} / {"bool": ...}.
func field(raw json.RawMessage) interface{} {
	var v struct {
		Str   *string  `json:"str"`
		Int   *int64   `json:"int"`
		Float *float64 `json:"float"`
		Bool  *bool    `json:"bool"`
	}
	must(json.Unmarshal(raw, &v))
	switch {
	case v.Str != nil:
		return *v.Str
	case v.Int != nil:
		return int(*v.Int)
	case v.Float != nil:
		return *v.Float
	case v.Bool != nil:
		return *v.Bool
	}
	panic("bad field " + string(raw))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func load(path string) ([]*Entry, Report, StaticData) {
	raw, err := os.ReadFile(path)
	must(err)
	var f dataFile
	must(json.Unmarshal(raw, &f))
	entries := []*Entry{}
	for _, e := range f.Entries {
		t, err := time.Parse(time.RFC3339Nano, e.Time)
		must(err)
		data := map[string]interface{}{}
		for k, v := range e.Fields {
			data[k] = field(v)
		}
		entries = append(entries, &Entry{Data: data, Time: t.In(time.Local), Level: parseLevel(e.Level), Message: e.Message})
	}
	list := func(name string) []ContainerReport {
		out := []ContainerReport{}
		for _, c := range f.Report[name] {
			out = append(out, &containerStatus{
				id: c.ID, current: c.Current, latest: c.Latest,
				name: c.Name, image: c.Image, errorText: c.Error, stateStr: c.State,
				failedStep: c.Step, restored: c.Back,
			})
		}
		return out
	}
	r := &report{
		scanned: list("scanned"), updated: list("updated"), failed: list("failed"),
		skipped: list("skipped"), stale: list("stale"), fresh: list("fresh"), all: list("all"),
		restored: list("restored"),
	}
	return entries, r, StaticData{Title: f.Title, Host: f.Host}
}

type testCase struct {
	name, mode, text string
}

// readCorpus splits the corpus into cases: a line `=== name mode [known ...]` starts a case;
// its template is the text up to the next such line, without the final newline. Lines
// before the first case are comments.
func readCorpus(path string) []testCase {
	file, err := os.Open(path)
	must(err)
	defer file.Close()
	var cases []testCase
	var body []string
	flush := func() {
		if len(cases) > 0 {
			cases[len(cases)-1].text = strings.Join(body, "\n")
		}
		body = nil
	}
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== ") {
			flush()
			words := strings.Fields(line[4:])
			if len(words) < 2 {
				panic("bad case header: " + line)
			}
			cases = append(cases, testCase{name: words[0], mode: words[1]})
			continue
		}
		body = append(body, line)
	}
	must(sc.Err())
	flush()
	return cases
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: render DATA.json CORPUS.txt")
		os.Exit(2)
	}
	entries, rep, static := load(os.Args[1])
	out := json.NewEncoder(os.Stdout)
	for _, c := range readCorpus(os.Args[2]) {
		var dot interface{}
		switch c.mode {
		case "entries":
			dot = entries
		case "report":
			dot = Data{StaticData: static, Entries: entries, Report: rep}
		case "noreport":
			dot = Data{StaticData: static, Entries: entries}
		default:
			panic("unknown mode " + c.mode)
		}
		class, text, msg := "output", "", ""
		tmpl, err := template.New("").Funcs(funcs).Parse(c.text)
		if err == nil {
			var buf bytes.Buffer
			if err = tmpl.Execute(&buf, dot); err == nil {
				text = buf.String()
			} else {
				class = "exec"
			}
		} else {
			class = "parse"
		}
		if err != nil {
			msg = err.Error()
		}
		must(out.Encode(map[string]string{"name": c.name, "class": class, "hex": hex.EncodeToString([]byte(text)), "error": msg}))
	}
}

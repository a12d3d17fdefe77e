// A test-only renderer for deploy/helm/reconciler, for machines without helm: Go's text/template (the engine
// Helm itself uses) with the handful of Helm and Sprig functions the chart calls. It reads the values as JSON on
// stdin (Helm turns values YAML into JSON-shaped maps too: numbers are float64) and prints every rendered
// template, as `helm template` does. Usage: helmrender CHART_DIR RELEASE NAMESPACE CHART_JSON < values.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: helmrender CHART_DIR RELEASE NAMESPACE CHART_JSON < values.json")
		os.Exit(2)
	}
	dir, release, namespace := os.Args[1], os.Args[2], os.Args[3]
	var chart map[string]interface{}
	check(json.Unmarshal([]byte(os.Args[4]), &chart))
	var values map[string]interface{}
	check(json.NewDecoder(os.Stdin).Decode(&values))
	context := map[string]interface{}{
		"Values":  values,
		"Release": map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm"},
		"Chart":   chart,
	}
	files, err := filepath.Glob(filepath.Join(dir, "templates", "*"))
	check(err)
	sort.Strings(files)
	root := template.New("chart").Option("missingkey=error")
	root.Funcs(funcs(root))
	for _, file := range files {
		text, err := os.ReadFile(file)
		check(err)
		_, err = root.New(filepath.Base(file)).Parse(string(text))
		check(err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		if strings.HasPrefix(name, "_") {
			continue
		}
		var out bytes.Buffer
		check(root.ExecuteTemplate(&out, name, context))
		fmt.Printf("---\n# Source: reconciler/templates/%s\n%s\n", name, out.String())
	}
}

func funcs(root *template.Template) template.FuncMap {
	return template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			var out bytes.Buffer
			err := root.ExecuteTemplate(&out, name, data)
			return out.String(), err
		},
		"nindent": func(n int, s string) string { return "\n" + indent(n, s) },
		"indent":  indent,
		"quote":   func(v interface{}) string { b, _ := json.Marshal(fmt.Sprint(v)); return string(b) },
		"toJson":  func(v interface{}) (string, error) { b, err := json.Marshal(v); return string(b), err },
		"until": func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		},
		"int": func(v interface{}) int {
			switch x := v.(type) {
			case float64:
				return int(x)
			case int:
				return x
			}
			panic(fmt.Sprintf("int: %v is not a number", v))
		},
		"trunc": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
		"contains":   func(substr, s string) bool { return strings.Contains(s, substr) },
	}
}

func indent(n int, s string) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "helmrender:", err)
		os.Exit(1)
	}
}

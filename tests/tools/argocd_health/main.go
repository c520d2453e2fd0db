// Command argocd-health evaluates an Argo CD health.lua against one object.
//
// Usage: argocd-health SCRIPT < object.json, prints {"status": ..., "message": ...}.
//
// It mirrors Argo CD's util/lua: only the base, table, string and math libraries, the
// object as the global "obj" (maps become tables, lists 1-based tables), and the script's
// returned table read for "status" and "message".
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	lua "github.com/yuin/gopher-lua"
)

func toLua(l *lua.LState, value interface{}) lua.LValue {
	switch v := value.(type) {
	case map[string]interface{}:
		table := l.NewTable()
		for key, item := range v {
			table.RawSetString(key, toLua(l, item))
		}
		return table
	case []interface{}:
		table := l.NewTable()
		for _, item := range v {
			table.Append(toLua(l, item))
		}
		return table
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	default:
		return lua.LNil
	}
}

func run(scriptPath string, input io.Reader) (map[string]string, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return nil, err
	}
	var obj map[string]interface{}
	if err := json.NewDecoder(input).Decode(&obj); err != nil {
		return nil, fmt.Errorf("reading the object: %w", err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(string(script)); err != nil {
		return nil, fmt.Errorf("running the script: %w", err)
	}
	returned, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("the script returned %s, not a table", l.Get(-1).Type())
	}
	return map[string]string{
		"status":  lua.LVAsString(returned.RawGetString("status")),
		"message": lua.LVAsString(returned.RawGetString("message")),
	}, nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-health SCRIPT < object.json")
		os.Exit(2)
	}
	health, err := run(os.Args[1], os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(health)
	fmt.Println(string(out))
}

#!/usr/bin/env python3
"""Regenerates console.jsonl: every expression below evaluated by the real Icinga 2.

Needs Debian's icinga2-bin (`apt-get install icinga2-bin`). Run from this directory:
    python3 generate.py
"""
import itertools
import json
import subprocess

OPERANDS = ['0', '1', '2.5', '-3', '"1"', '"abc"', '""', 'true', 'false', 'null', '[1, 2]', '[]', '{a = 1}', '{}']
BINARY = ['+', '-', '*', '/', '%', '==', '!=', '<', '>', '<=', '>=', '&&', '||', '&', '|', '^', '<<', '>>', 'in', '!in']

HANDWRITTEN = r'''
1 + 2 * 3
(1 + 2) * 3
10 - 4 - 3
2 * 3 % 4
1 + 2 == 3
1 < 2 == true
true || false && false
(true || false) && false
0 || 7
3 && 7
0 && 7
"" || "x"
null || [] || {} || "z"
1 == 1 && 2 == 2 || 3
1 | 2 ^ 3 & 4
1 << 2 + 1
-2 * 3
--2
!0
!!"false"
!null
~0
~5
~-1
~2.7
~"5"
~null
-null
+5
- 3
1 < 2 < 3
1 == 1 == true
1 +
1 ? 2 : 3
0 ? 2 : 3
null ? "a" : "b"
true ? false ? 1 : 2 : 3
1 ? 2 : 0 ? 3 : 4
5m
1.5h
10ms
2d
30s
1.5
0.1 + 0.2
1 / 3
2 / 4
7 / 2
-7 / 2
7 % 3
-7 % 3
7 % -3
7.9 % 3
7 % 3.5
2147483647 + 1
2147483648 | 0
4294967296 | 1
1 << 31
1 << 32
1 << 40
-1 >> 1
-16 >> 2
255 & 15
5 ^ 3
1e3
100000000000000000000
123456789012345
1234567890123456789
0.000001
0.00001
0.0001
1000000000000000.5
"a" + 2.5
"a" + 1
"a" + 1/3
"a" + 100000000000000000000
"a" + null
null + "a"
"a" + true
"a" + [1]
1 + null
null + null
null - null
null * 2
null / 2
2 / null
2 % null
[1, 2] + [3]
[1, 2] - [2]
[1, 2, 2, 3] - [2]
{a = 1} + {b = 2}
{a = 1} + {a = 2}
[1] + null
null + [1]
{a = 1} + null
"abc" < "abd"
"abc" < "ab"
"B" < "a"
"a" < 1
null < 1
null < null
null > -1
[1, 2] < [1, 3]
[1, 2] < [1]
[1] < [1, 0]
[] < [1]
[1, 2] <= [1, 2]
true < false
1 == true
0 == false
2 == true
1 == "1"
"1" == 1
null == ""
"" == null
null == 0
null == false
null == null
[1, 2] == [1, 2]
[1, [2]] == [1, [2]]
[1, 2] == [2, 1]
{a = 1} == {a = 1}
{} == {}
"a" == "a"
"a" == "A"
1.0 == 1
1 in [1, 2]
"1" in [1, 2]
3 in [1, 2]
1 !in [1, 2]
3 !in [1, 2]
null in [null]
"" in [null]
1 in null
1 !in null
1 in {}
1 in "abc"
1 in 5
[1] in [[1], [2]]
true in [1]
"x" in ["a", "x"]
[1, 2, 3][0]
[1, 2, 3][2]
[1, 2, 3][3]
[1, 2, 3][-1]
[1, 2, 3]["1"]
[1, 2, 3][1.5]
[1, 2, 3].x
{a = 1}["a"]
{a = 1}.a
{a = 1}.b
{a = {b = {c = 3}}}.a.b.c
{a = {b = 1}}["a"]["b"]
{"odd key" = 1}["odd key"]
null.x
null.x.y
null["x"]
"abc".foo
"abc"[0]
5.x
true.x
{a = 1, b = a}
{a = 1, a += 2}
{a = [1], a += [2]}
{a = "x"
b = "y"}
{a = 1; b = 2}
{ 1 }
[1,
2]
(1 +
2)
1 +
2
[1, 2,]
[]
{}
[[], {}]
"tab\there"
"quote\"d"
"back\\slash"
"new\nline"
"\101\102"
"a\x"
"unterminated
{{{raw "string" \n}}}
{{{multi
line}}}
"ümlaut"
len("ümlaut")
// comment
1 // comment
1 # comment
/* block */ 2
1 /* inner */ + 2
len("abc")
len("")
len([1, 2, 3])
len({a = 1, b = 2})
len(null)
len(5)
len(true)
len()
len(1, 2)
typeof(1) == Number
typeof("a") == String
typeof(true) == Boolean
typeof([]) == Array
typeof({}) == Dictionary
typeof(null) == Object
typeof(len) == Function
typeof(Number) == Type
typeof(1).name
typeof(null).name
typeof({}).name
typeof(typeof).name
Number.name
String.base
Array.base.name
Number
Boolean
Object
typeof
match
string(1)
string(1.5)
string(-0.5)
string(true)
string(false)
string(null)
string("x")
string([1, "a"])
string([])
string({})
string({a = 1, b = [true, null]})
string({"a b" = 1})
string(Number)
string(len)
string([[1.5]])
number("42")
number("4.5")
number(" 7 ")
number("abc")
number("")
number(true)
number(null)
number([1])
number("1e3")
number("0x10")
bool(0)
bool("")
bool("0")
bool("false")
bool([])
bool([0])
bool({})
bool(null)
bool(Number)
match("web*", "web01")
match("web*", "WEB01")
match("WEB*", "web01")
match("*01", "web01")
match("w?b*", "web01")
match("web", "web01")
match("*", "")
match("", "")
match("?", "")
match("a*b*c", "axxbyyc")
match("a\\*", "a*")
match("a\\*", "ab")
match("[ab]", "a")
match("web*", ["web1", "web2"])
match("web*", ["web1", "db2"])
match("web*", ["web1", "db2"], MatchAny)
match("web*", ["db1", "db2"], MatchAny)
match("web*", [])
match("web*", [], MatchAny)
match("web*", {})
match("1*", 123)
match("t*", true)
match("web*", null)
match("*", null)
match("web*")
match("a", "a", MatchAll, 1)
match(null, "")
regex("^web", "web01")
regex("^WEB", "web01")
regex("(?i)^WEB", "web01")
regex("b", "abc")
regex("^b", "abc")
regex("\\d+", "abc123")
regex("^\\d+$", "123")
regex("^[a-z]+$", ["abc", "def"])
regex("^[a-z]+$", ["abc", "d3f"])
regex("^[a-z]+$", ["abc", "d3f"], MatchAny)
regex("^[a-z]+$", [])
regex("x", {})
regex("(", "x")
regex("a", 123)
regex("1", 123)
regex("(a)\\1", "aa")
regex("a(?=b)", "ab")
regex("web")
cidr_match("192.168.1.0/24", "192.168.1.5")
cidr_match("192.168.1.0/24", "192.168.2.5")
cidr_match("192.168.1.1/24", "192.168.1.5")
cidr_match("192.168.0.0/16", ["192.168.1.1", "192.168.2.2"])
cidr_match("192.168.0.0/16", ["192.168.1.1", "10.0.0.1"])
cidr_match("192.168.0.0/16", ["192.168.1.1", "10.0.0.1"], MatchAny)
cidr_match("10.0.0.1", "10.0.0.1")
cidr_match("10.0.0.1", "10.0.0.2")
cidr_match("::1", "::1")
cidr_match("2001:db8::/32", "2001:db8::1")
cidr_match("2001:db8::/32", "2001:db9::1")
cidr_match("0.0.0.0/0", "8.8.8.8")
cidr_match("::ffff:0:0/96", "1.2.3.4")
cidr_match("192.168.1.0/33", "192.168.1.1")
cidr_match("garbage", "1.2.3.4")
cidr_match("10.0.0.0/8", "garbage")
cidr_match("10.0.0.0/8", [])
cidr_match("10.0.0.0/8")
union([1, 2], [2, 3])
union([3, 1], [2])
union()
union([1])
union([1], 2)
intersection([1, 2, 3], [2, 3, 4])
intersection([1, 2], [3])
intersection([3, 2, 1], [1, 2, 3], [2])
intersection()
keys({b = 1, a = 2})
keys([1])
keys(null)
basename("/etc/icinga2/icinga2.conf")
dirname("/etc/icinga2/icinga2.conf")
basename("file")
dirname("file")
basename("/")
dirname("/")
basename("/a/b/")
escape_shell_arg("it's")
escape_shell_cmd("a;b")
Math.max(1, 5, 3)
Math.min(4, 2)
Math.floor(2.7)
Math.ceil(2.1)
Math.round(2.5)
Math.abs(-3)
Math.pow(2, 10)
Math.sqrt(16)
Math.PI
Math.max()
Json.encode({a = [1, "x"]})
Json.decode("{\"a\": [1, 2.5]}")
Json.decode("[")
typeof(get_time()) == Number
get_time() > 1600000000
MatchAll
MatchAny
ServiceOK
ServiceCritical
HostDown
DowntimeNoChildren
Icinga.ServiceWarning
System.MatchAny
LogWarning
"abc".len()
"abc".upper()
"ABC".lower()
"a,b,,c".split(",")
"a,b;c".split(",;")
"abc".split("")
["a", "b"].join(",")
["a", 1, true, null].join("-")
[1.5, 2].join(" ")
[].join(",")
["a"].join()
"hello".contains("ell")
"hello".contains("xyz")
"hello".find("l")
"hello".find("l", 3)
"hello".find("z")
"hello".find("l", 10)
"hello".substr(1)
"hello".substr(1, 3)
"hello".substr(1, 10)
"hello".substr(10)
"hello".substr(5)
"hello".substr(-1)
"hello".replace("l", "L")
"hello".replace("", "x")
"hello".reverse()
"  pad  ".trim()
"x".to_string()
5.to_string()
(5).to_string()
(2.5).to_string()
true.to_string()
[1, 2].to_string()
{a = 1}.to_string()
"abc".len
"abc".nosuch()
[3, 1, 2].sort()
["b", "a", "C"].sort()
[3, 1, 2].sort((a, b) => a > b)
[[2], [1, 5], [1]].sort()
[1, "a"].sort()
[1, 2, 2, 3, 1].unique()
["b", "a", "b"].unique()
[1, 2, 3].reverse()
[1, 2, 3].contains(2)
[1, 2, 3].contains("2")
[1, 2, 3].len()
[1, 2, 3].map(x => x * 2)
[1, 2, 3].filter(x => x > 1)
[1, 2, 3].reduce((a, b) => a + b)
[].reduce((a, b) => a + b)
[1, 2, 3].any(x => x > 2)
[1, 2, 3].all(x => x > 2)
[].any(x => true)
[].all(x => false)
[1, 2].shallow_clone()
[1, 2].get(1)
{a = 1, b = 2}.keys()
{a = 1, b = 2}.values()
{a = 1}.contains("a")
{a = 1}.contains("b")
{a = 1}.len()
{a = 1}.get("a")
{a = 1}.shallow_clone()
{keys = 5}.keys
{a = 1}.keys
f = (x) => x + 1; f(2)
f = x => x * x; f(5)
f = (a, b) => a + b; f(1, 2)
f = () => 42; f()
f = (x) => x; f()
f = (x) => x; f(1, 2)
((x) => x * 3)(4)
{{ 42 }}()
f = {{ 1 + 1 }}; f()
x = 5; x
x = 5; x += 2; x
x = 5; x -= 2; x
x = 5; x *= 2; x
x = 5; x /= 2; x
x = 7; x %= 4; x
x = "a"; x += "b"; x
var x = 1; var y = 2; x + y
var x = [1, 2]; x[0] = 5; x
var d = {a = 1}; d.b = 2; d
var d = {a = {b = 1}}; d.a.b = 3; d
var d = {}; d["k"] = "v"; d
var a = [1]; a.add(2); a
x = 1; f = () => x; f()
function f(x) { return x * 2 }; f(21)
function fact(n) { if (n <= 1) { return 1 }; return n * fact(n - 1) }; fact(10)
f = function(a) { return a + 1 }; f(1)
if (true) { 1 } else { 2 }
if (false) { 1 } else { 2 }
if (false) { 1 }
if (false) { 1 } else if (true) { 2 } else { 3 }
if (0) { "a" } else { "b" }
var s = 0; for (x in [1, 2, 3]) { s += x }; s
var s = ""; for (k => v in {a = 1, b = 2}) { s += k + v }; s
var s = 0; for (x in [1, 2, 3, 4]) { if (x == 3) { break }; s += x }; s
var s = 0; for (x in [1, 2, 3, 4]) { if (x == 3) { continue }; s += x }; s
var i = 0; while (i < 5) { i += 1 }; i
for (x in [1, 2]) { x }
for (x in {a = 1}) { x = 1 }
for (k => v in [1]) { k = 1 }
for (x in null) { x = 1 }
for (x in 5) { x = 1 }
1; 2
var x = 1
x
undefined_variable
undefined_function()
5()
"abc"()
throw "boom"
assert(false)
assert(true)
get_object("Host", "nope")
get_object(Host, "nope")
get_objects(Host)
get_host("nope")
get_service("h", "s")
range(5)
range(2, 5)
range(0, 10, 3)
range(5, 0, -2)
random() >= 0
locals
this
String("abc")
Number("5")
Boolean(1)
Array()
Dictionary()
Host()
@if = 1; @if
x.y = 1
1 = 2
f(1) = 2
[1, 2
{a = 1
(1 + 2
"a" "b"
1 2
a b
)
]
}
!
1 +* 2
==
in
x in
return 5
return
break
"a".upper
'single'
@
$
1.
.5
0.5
007
1_000
1 !in[1]
!in
1 !inx [1]
get_time
Types.Host
Icinga.get_host
function() { 3 }()
function(a, b) { a + b }(1, 2)
(function(x) { return x * 2 })(4)
((x) => x + 1)(1)
try { throw "x" } except { 5 }
try { 1 } except { 2 }
try { throw "boom" } except { log(DebugMessage, "t", "caught") }
var x = 1; try { x = 2; throw "e"; x = 3 } except { x = x + 10 }; x
"hello".find("")
match("ä*", "Äpfel")
match("ä*", "äpfel")
match("a*", "ABC")
match("A*", "abc")
regex("^ä", "Ä")
intersection([1, 2])
intersection([1, 2], [2, 3])
intersection([1, 2, 2], [2, 2, 3])
union([1, 2])
escape_shell_cmd("/bin/echo 'x' $ENV")
escape_shell_cmd("a b\"c")
escape_shell_cmd("x;y|z&w`v`")
parse_performance_data("load1=0.5;1;2;0;10").crit
parse_performance_data("load1=0.5;1;2;0;10").warn
parse_performance_data("load1=0.5;1;2;0;10").min
parse_performance_data("load1=0.5;1;2;0;10").max
parse_performance_data("load1=0.5;1;2;0;10").value
parse_performance_data("load1=0.5;1;2;0;10").label
parse_performance_data("time=5s;;;").unit
parse_performance_data("time=5s;;;").counter
parse_performance_data("load1=0.5;1;2;0;10")
parse_performance_data("'disk /'=2KiB;1;2;0;4")
parse_performance_data("t=5MS;10:20;U")
parse_performance_data("e=3kWh")
parse_performance_data("x=1furlongs")
parse_performance_data("c=7c")
parse_performance_data("a=1,5")
parse_performance_data("p=99.5%;80;90")
parse_performance_data("m=2.5GB")
parse_performance_data("v=230V")
parse_performance_data("z=1e3mA")
escape_shell_cmd("say \"hi\" and 'bye")
escape_shell_cmd("it's \"x")
'''.strip().split('\n')


def cases():
    seen = set()
    out = []
    for line in HANDWRITTEN:
        expr = line.replace('\\n', '\n') if False else line
        if expr not in seen:
            seen.add(expr)
            out.append(expr)
    for a, op, b in itertools.product(OPERANDS, BINARY, OPERANDS):
        expr = f'{a} {op} {b}'
        if expr not in seen:
            seen.add(expr)
            out.append(expr)
    for op in ['!', '~', '-']:
        for a in OPERANDS:
            expr = f'{op}{a}' if op != '-' else f'-({a})'
            if expr not in seen:
                seen.add(expr)
                out.append(expr)
    return out


def main():
    with open('console.jsonl', 'w') as f:
        for expr in cases():
            try:
                p = subprocess.run(['icinga2', 'console', '--eval', expr], capture_output=True, text=True, timeout=5)
            except subprocess.TimeoutExpired:
                continue  # Icinga hangs on some inputs (e.g. a lone '$'); no reference then.
            f.write(json.dumps({'expr': expr, 'ok': p.returncode == 0, 'output': p.stdout.rstrip('\n')}, ensure_ascii=False) + '\n')


if __name__ == '__main__':
    main()

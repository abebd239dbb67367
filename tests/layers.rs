//! The modules of src/ import one another without a cycle, at depth 1 (`crate::proto`) and at
//! depth 2 (`crate::proto::h1`). The graph is read as text, as shared/tools/layers.py reads it
//! (reimplemented here so that CI checks it on a clean clone): an edge A -> B when a file inside
//! A names `crate::B...`, in a `use` or inline. Tests are left out: files named `*tests.rs` and
//! `#[cfg(test)] mod x { ... }` blocks. On failure it prints the graph and each cycle's edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module -> the modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The length of the run of bytes at the start of `s` that `keep` accepts.
fn run(s: &[u8], keep: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&b| keep(b)).count()
}

/// The `a::b::` at the start of `s`.
fn path_prefix(s: &str) -> &str {
    &s[..run(s.as_bytes(), |c| is_word(c) || c == b':')]
}

/// The `.rs` files under `dir`, tests left out.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for path in std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()) {
        let name = path.file_name().unwrap().to_str().unwrap();
        if path.is_dir() && name != "tests" {
            rust_files(&path, out);
        } else if name.ends_with(".rs") && !name.ends_with("tests.rs") {
            out.push(path.clone());
        }
    }
}

/// `src/proto/h1/mod.rs` -> [proto, h1]; the crate roots are [].
fn module_of(path: &Path, src: &Path) -> Vec<String> {
    let rel = path.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_str().unwrap().into()).collect();
    if ["mod", "lib", "main"].contains(&parts.last().map_or("", String::as_str)) {
        parts.pop();
    }
    parts
}

/// `text` without its `#[cfg(test)] (pub(...))? mod x { ... }` blocks (braces matched by count).
fn strip_tests(text: &str) -> String {
    let b = text.as_bytes();
    let ws = |j: usize| j + run(&b[j.min(b.len())..], |c| c.is_ascii_whitespace());
    let (mut out, mut i) = (String::new(), 0);
    for (at, attr) in text.match_indices("#[cfg(test)]") {
        let mut j = ws(at + attr.len());
        if b[j..].starts_with(b"pub") {
            let mut k = j + 3;
            if b.get(k) == Some(&b'(') {
                k = (k + run(&b[k..], |c| c != b')') + 1).min(b.len());
            }
            if ws(k) > k {
                j = ws(k);
            }
        }
        if at < i || !b[j..].starts_with(b"mod") || ws(j + 3) == j + 3 {
            continue;
        }
        let name = ws(j + 3);
        let len = run(&b[name..], is_word);
        let open = ws(name + len);
        if len == 0 || b.get(open) != Some(&b'{') {
            continue;
        }
        out.push_str(&text[i..at]);
        let (mut depth, mut k) = (1, open + 1);
        while k < b.len() && depth > 0 {
            depth += i32::from(b[k] == b'{') - i32::from(b[k] == b'}');
            k += 1;
        }
        i = k;
    }
    out + &text[i..]
}

/// Splits at the commas outside braces.
fn split_top(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        depth += i32::from(c == '{') - i32::from(c == '}');
        if c == ',' && depth == 0 {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The `crate::` paths a file names (comments from `//` to the end of the line left out).
fn crate_paths(text: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.split("//").next().unwrap())
        .collect();
    let text = lines.join("\n");
    let word_before = |at: usize| at > 0 && is_word(text.as_bytes()[at - 1]);
    let mut paths = BTreeSet::new();
    // `use crate::a::{b, c::{d}};`
    for (at, _) in text.match_indices("use") {
        let rest = &text[at + 3..];
        let after = rest.trim_start();
        let body = after
            .strip_prefix("crate::")
            .and_then(|r| r.split_once(';'));
        let Some((body, _)) = body.filter(|(body, _)| !body.is_empty()) else {
            continue;
        };
        if word_before(at) || after.len() == rest.len() {
            continue;
        }
        let head = path_prefix(body).trim_matches(':');
        match (body.find('{'), body.rfind('}')) {
            (Some(open), Some(close)) if close > open => {
                for part in split_top(&body[open + 1..close]).into_iter().map(str::trim) {
                    paths.insert(match part {
                        "" | "self" => head.to_string(),
                        _ => format!("{head}::{}", path_prefix(part).trim_matches(':')),
                    });
                }
            }
            _ => {
                paths.insert(head.to_string());
            }
        }
    }
    // `crate::a::b` anywhere else (not right after `use `).
    let mut next = 0;
    for (at, _) in text.match_indices("crate::") {
        let path = path_prefix(&text[at + 7..]);
        if at < next || word_before(at) || text[..at].ends_with("use ") || path.is_empty() {
            continue;
        }
        paths.insert(path.to_string());
        next = at + 7 + path.len();
    }
    paths
}

/// The import graph of the crate at `src`, modules cut at `depth`.
fn graph(src: &Path, depth: usize) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mods: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(f, src)).collect();
    // The longest module that `parts` starts with, cut at `depth`.
    let node = |parts: Vec<String>| -> Option<String> {
        let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        let k = (1..=parts.len())
            .rev()
            .find(|&k| mods.contains(&parts[..k]))?;
        Some(parts[..k.min(depth)].join("::"))
    };
    let mut edges = Graph::new();
    for f in &files {
        let Some(a) = node(module_of(f, src)) else {
            continue; // a crate root
        };
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        let apart = |b: &String| {
            *b != a && !b.starts_with(&format!("{a}::")) && !a.starts_with(&format!("{b}::"))
        };
        for p in crate_paths(&strip_tests(&text)) {
            if let Some(b) = node(p.split("::").map(String::from).collect()).filter(apart) {
                edges.entry(a.clone()).or_default().insert(b);
            }
        }
    }
    edges
}

/// Every module in the graph, naming or named.
fn nodes(g: &Graph) -> BTreeSet<&str> {
    let named = g.values().flatten();
    g.keys().chain(named).map(String::as_str).collect()
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<BTreeSet<String>> {
    /// Index and lowlink of each module visited, the stack, the components found.
    type State<'g> = (
        BTreeMap<&'g str, (usize, usize)>,
        Vec<&'g str>,
        Vec<BTreeSet<String>>,
    );
    fn visit<'g>(g: &'g Graph, v: &'g str, st: &mut State<'g>) {
        let n = st.0.len();
        st.0.insert(v, (n, n));
        st.1.push(v);
        for w in g.get(v).into_iter().flatten().map(String::as_str) {
            let low = match st.0.get(w) {
                None => {
                    visit(g, w, st);
                    st.0[w].1
                }
                Some(&(index, _)) if st.1.contains(&w) => index,
                Some(_) => continue,
            };
            let entry = st.0.get_mut(v).unwrap();
            entry.1 = entry.1.min(low);
        }
        if st.0[v].0 == st.0[v].1 {
            let at = st.1.iter().rposition(|&s| s == v).unwrap();
            let comp: BTreeSet<String> = st.1.drain(at..).map(String::from).collect();
            if comp.len() > 1 {
                st.2.push(comp);
            }
        }
    }
    let mut st: State = Default::default();
    for v in nodes(g) {
        if !st.0.contains_key(v) {
            visit(g, v, &mut st);
        }
    }
    st.2.sort();
    st.2
}

/// The graph as layers.py prints it, then the edges inside each cycle.
fn report(g: &Graph, found: &[BTreeSet<String>]) -> String {
    let mut out = String::new();
    for (a, bs) in g {
        let bs: Vec<&str> = bs.iter().map(String::as_str).collect();
        out += &format!("{a} -> {}\n", bs.join(", "));
    }
    for comp in found {
        out += "CYCLE:\n";
        for (a, bs) in g.iter().filter(|(a, _)| comp.contains(*a)) {
            for b in bs.iter().filter(|b| comp.contains(*b)) {
                out += &format!("  {a} -> {b}\n");
            }
        }
    }
    let edges: usize = g.values().map(BTreeSet::len).sum();
    let modules = nodes(g).len();
    out + &format!("modules {modules}, edges {edges}, cycles {}", found.len())
}

fn assert_acyclic(depth: usize) {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), depth);
    let found = cycles(&g);
    let text = report(&g, &found);
    println!("{text}");
    assert!(g.len() > 10, "too small a graph to be src/'s:\n{text}");
    assert!(found.is_empty(), "import cycles at depth {depth}:\n{text}");
}

#[test]
fn src_has_no_import_cycle_at_depth_1() {
    assert_acyclic(1);
}

#[test]
fn src_has_no_import_cycle_at_depth_2() {
    assert_acyclic(2);
}

/// The checker finds the cycles of a tree that has some, and leaves tests and comments out.
#[test]
fn a_synthetic_tree_with_cycles_has_them_found() {
    let src = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&src);
    let file = |rel: &str, text: &str| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    file("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n");
    // a <-> b at depth 1: a `use` with braces one way, an inline path the other.
    file("a.rs", "use crate::b::{x::X, self};\npub fn g() {}\n");
    file(
        "b/mod.rs",
        "pub mod x;\npub mod y;\npub fn f() { crate::a::g() }\n",
    );
    // b::x <-> b::y: inside b at depth 1, a cycle of its own at depth 2.
    file("b/x.rs", "use crate::b::y::Y;\npub struct X;\n");
    file("b/y.rs", "pub struct Y(crate::b::x::X);\n");
    // c names a only in a comment and in tests: no edge.
    file(
        "c.rs",
        "// crate::a::g\n#[cfg(test)]\nmod tests {\n    use crate::a::g;\n}\n",
    );
    file("c_tests.rs", "use crate::a::g;\n");
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let g = graph(&src, 1);
    let found = cycles(&g);
    assert_eq!(found, [set(&["a", "b"])], "{}", report(&g, &found));
    assert!(
        report(&g, &found).ends_with("CYCLE:\n  a -> b\n  b -> a\nmodules 2, edges 2, cycles 1")
    );
    let g = graph(&src, 2);
    let found = cycles(&g);
    let want = [set(&["a", "b"]), set(&["b::x", "b::y"])];
    assert_eq!(found, want, "{}", report(&g, &found));
    let _ = std::fs::remove_dir_all(&src);
}

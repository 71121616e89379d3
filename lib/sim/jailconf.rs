//! A jail.conf(5) reader that takes a file as FreeBSD 14's jail(8) does (usr.sbin/jail:
//! jaillex.l, jailparse.y, config.c `load_config`, `add_param`, `include_config`):
//!
//! - blocks, and parameters outside any block, which belong to an implicit `*` block at that
//!   place; a block whose name has a `*` applies to every jail it matches, at its place in the
//!   file: before the jail's own parameters if it comes before the jail's block, after them
//!   if it comes after;
//! - `=` replaces, `+=` appends, a bare `name;` is a boolean, lists with `,`;
//! - double-quoted and unquoted strings take `$name` and `${name}` and backslash escapes;
//!   single-quoted ones are literal;
//! - variables (`$x = ...;`) and parameters are resolved per jail once all its parameters
//!   are collected, so one defined later, or in the jail's own block, resolves; a missing one
//!   or a loop fails that jail, and a list cannot be substituted into other text;
//! - `.include` with glob patterns, relative to the including file; a pattern may match
//!   nothing, a plain name must exist; more than 32 levels is an error (include loops).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A parse or substitution error, with the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError(pub String);

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// jail(8)'s MAX_INCLUDE_DEPTH.
const MAX_INCLUDE_DEPTH: usize = 32;

/// A string value: its text, and whether `$` in it is a variable (not in single quotes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// the text, escapes applied
    pub text: String,
    /// `$name` and `${name}` in it are substituted
    pub subst: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Str(Value),
    LBrace,
    RBrace,
    Semi,
    Comma,
    Eq,
    PlusEq,
}

impl std::fmt::Display for Tok {
    /// As the file has it, for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Str(v) => write!(f, "{:?}", v.text),
            Tok::LBrace => f.write_str("'{'"),
            Tok::RBrace => f.write_str("'}'"),
            Tok::Semi => f.write_str("';'"),
            Tok::Comma => f.write_str("','"),
            Tok::Eq => f.write_str("'='"),
            Tok::PlusEq => f.write_str("'+='"),
        }
    }
}

/// One assignment, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assign {
    /// parameter, or a variable (`$` and its name)
    pub name: String,
    /// appended (`+=`) rather than set
    pub append: bool,
    /// the values; none for a bare boolean (`vnet;`)
    pub values: Vec<Value>,
}

/// A block of parameters: a jail's, or a wildcard one (`*`, `web*`, and the parameters
/// outside any block), at its place in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// the jail name or wildcard pattern
    pub name: String,
    /// its assignments, in order
    pub params: Vec<Assign>,
}

/// A parsed file (and what it includes): every section in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JailConf {
    /// sections in file order
    pub sections: Vec<Section>,
}

/// `wild_jail_name`: a name with a component that is just `*` (`web*` is a plain name).
fn is_wild(name: &str) -> bool {
    name.split('.').any(|c| c == "*")
}

/// `wild_jail_match`: dot-separated components; a `*` component matches one component, and
/// a final one one or more.
fn wild_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<&str>, Vec<&str>) = (pattern.split('.').collect(), name.split('.').collect());
    for (k, pc) in p.iter().enumerate() {
        if k == p.len() - 1 && *pc == "*" {
            return n.len() > k;
        }
        match n.get(k) {
            Some(nc) if pc == nc || *pc == "*" => {}
            _ => return false,
        }
    }
    p.len() == n.len()
}

fn lex(src: &str, file: &str) -> Result<Vec<(Tok, usize)>, ConfError> {
    let b: Vec<char> = src.chars().collect();
    let err = |line: usize, what: String| ConfError(format!("{file}: line {line}: {what}"));
    let mut i = 0;
    let mut line = 1;
    let mut out = vec![];
    // A backslash escape (jaillex.l): \n \t and friends, octal, and any other character as
    // itself; a backslash before a newline continues the line.
    let escape = |i: &mut usize, line: &mut usize, s: &mut String| -> Result<(), ConfError> {
        let Some(&e) = b.get(*i) else { return Err(err(*line, "backslash at end of file".into())) };
        *i += 1;
        match e {
            'n' => s.push('\n'),
            't' => s.push('\t'),
            'r' => s.push('\r'),
            'a' => s.push('\u{7}'),
            'b' => s.push('\u{8}'),
            'f' => s.push('\u{c}'),
            'v' => s.push('\u{b}'),
            '\n' => *line += 1,
            '0'..='7' => {
                let mut v = e.to_digit(8).expect("octal");
                for _ in 0..2 {
                    match b.get(*i).and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            *i += 1;
                        }
                        None => break,
                    }
                }
                s.push(char::from_u32(v).unwrap_or('?'));
            }
            c => s.push(c),
        }
        Ok(())
    };
    while i < b.len() {
        let c = b[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '/' if b.get(i + 1) == Some(&'/') => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
            }
            '/' if b.get(i + 1) == Some(&'*') => {
                let start = line;
                i += 2;
                while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                    if b[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if i + 1 >= b.len() {
                    return Err(err(start, "unterminated comment".into()));
                }
                i += 2;
            }
            '{' | '}' | ';' | ',' | '=' => {
                let t = match c {
                    '{' => Tok::LBrace,
                    '}' => Tok::RBrace,
                    ';' => Tok::Semi,
                    ',' => Tok::Comma,
                    _ => Tok::Eq,
                };
                out.push((t, line));
                i += 1;
            }
            '+' if b.get(i + 1) == Some(&'=') => {
                out.push((Tok::PlusEq, line));
                i += 2;
            }
            '"' | '\'' => {
                let q = c;
                let start = line;
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(&d) = b.get(i) else {
                        return Err(err(start, format!("unterminated {q}string{q}")));
                    };
                    i += 1;
                    match d {
                        d if d == q => break,
                        '\\' if q == '"' => escape(&mut i, &mut line, &mut s)?,
                        '\n' => {
                            line += 1;
                            s.push('\n');
                        }
                        d => s.push(d),
                    }
                }
                out.push((Tok::Str(Value { text: s, subst: q == '"' }), start));
            }
            _ => {
                // An unquoted string: up to white space or punctuation; `${...}` is one
                // piece, braces and all.
                let mut s = String::new();
                while i < b.len() {
                    let d = b[i];
                    if d == '$' && b.get(i + 1) == Some(&'{') {
                        let close = b[i + 2..]
                            .iter()
                            .position(|&x| !(x.is_ascii_alphanumeric() || "_.-".contains(x)))
                            .map(|k| k + 2);
                        match close {
                            Some(k) if b[i + k] == '}' && k > 2 => {
                                s.extend(&b[i..=i + k]);
                                i += k + 1;
                                continue;
                            }
                            _ => return Err(err(line, "unterminated ${".into())),
                        }
                    }
                    if d == '\\' {
                        i += 1;
                        escape(&mut i, &mut line, &mut s)?;
                        continue;
                    }
                    if d.is_whitespace()
                        || "{};,=\"'#".contains(d)
                        || (d == '+' && b.get(i + 1) == Some(&'='))
                        || (d == '/' && matches!(b.get(i + 1), Some('/') | Some('*')))
                    {
                        break;
                    }
                    s.push(d);
                    i += 1;
                }
                if s.is_empty() {
                    return Err(err(line, format!("unexpected {c:?}")));
                }
                out.push((Tok::Str(Value { text: s, subst: true }), line));
            }
        }
    }
    Ok(out)
}

/// Does the text have glob characters (glob(3)'s GLOB_MAGCHAR)?
fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// fnmatch for one path component: `*`, `?`, `[...]` (with `!` or `^` to negate, ranges).
fn fnmatch(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len()).any(|k| fnmatch(&p[1..], &s[k..])),
        Some('?') => !s.is_empty() && fnmatch(&p[1..], &s[1..]),
        Some('[') => {
            let Some(end) = p.iter().skip(2).position(|&c| c == ']').map(|k| k + 2) else {
                return s.first() == Some(&'[') && fnmatch(&p[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let set = &p[1..end];
            let (neg, set) = match set.first() {
                Some('!') | Some('^') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut k = 0;
            while k < set.len() {
                if k + 2 < set.len() && set[k + 1] == '-' {
                    hit |= set[k] <= c && c <= set[k + 2];
                    k += 3;
                } else {
                    hit |= set[k] == c;
                    k += 1;
                }
            }
            hit != neg && fnmatch(&p[end + 1..], &s[1..])
        }
        Some(&c) => s.first() == Some(&c) && fnmatch(&p[1..], &s[1..]),
    }
}

/// glob(3) of a pattern whose glob characters are in its last component (as in
/// `/etc/jail.conf.d/*.conf`), sorted; hidden files only when the pattern asks for them.
fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let last: Vec<char> = pattern.file_name().map(|f| f.to_string_lossy().chars().collect()).unwrap_or_default();
    if is_glob(&dir.to_string_lossy()) {
        return Err("glob characters are only handled in the last component of an .include".into());
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(_) => return Ok(vec![]),
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name: Vec<char> = e.file_name().to_string_lossy().chars().collect();
            (name.first() != Some(&'.') || last.first() == Some(&'.')) && fnmatch(&last, &name)
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

struct Parser<'a> {
    conf: &'a mut JailConf,
    depth: usize,
}

impl Parser<'_> {
    fn file(&mut self, path: &Path) -> Result<(), ConfError> {
        let src = std::fs::read_to_string(path).map_err(|e| ConfError(format!("{}: {e}", path.display())))?;
        self.source(&src, path)
    }

    fn source(&mut self, src: &str, path: &Path) -> Result<(), ConfError> {
        let file = path.display().to_string();
        let toks = lex(src, &file)?;
        let err = |line: usize, what: String| ConfError(format!("{file}: line {line}: {what}"));
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut i = 0;
        let mut block: Option<Section> = None;
        let mut block_line = 0;
        while i < toks.len() {
            let (t, line) = (&toks[i].0, toks[i].1);
            match t {
                // jailparse.y: `conf: conf ';'` — an empty statement, inside a block or out,
                // and after a block's '}'.
                Tok::Semi => i += 1,
                Tok::RBrace => {
                    let s = block.take().ok_or_else(|| err(line, "'}' without a block".into()))?;
                    self.conf.sections.push(s);
                    i += 1;
                }
                Tok::Str(v) if v.text == ".include" && v.subst => {
                    if block.is_some() {
                        return Err(err(line, ".include inside a jail block".into()));
                    }
                    let Some((Tok::Str(p), _)) = toks.get(i + 1) else {
                        return Err(err(line, ".include needs a file name".into()));
                    };
                    if !matches!(toks.get(i + 2), Some((Tok::Semi, _))) {
                        return Err(err(line, "expected ';' after the .include file name".into()));
                    }
                    self.include(&dir.join(&p.text), line, &file)?;
                    i += 3;
                }
                Tok::Str(v) => {
                    let name = v.text.clone();
                    if let Some((Tok::LBrace, _)) = toks.get(i + 1) {
                        if block.is_some() {
                            return Err(err(line, "blocks do not nest".into()));
                        }
                        block = Some(Section { name, params: vec![] });
                        block_line = line;
                        i += 2;
                        continue;
                    }
                    let (a, next) = assignment(&toks, i, name, &err)?;
                    i = next;
                    match &mut block {
                        Some(s) => s.params.push(a),
                        // A parameter outside any block: an implicit `*` block at this place.
                        None => self.conf.sections.push(Section { name: "*".into(), params: vec![a] }),
                    }
                }
                t => return Err(err(line, format!("expected a name, found {t}"))),
            }
        }
        if let Some(s) = block {
            return Err(err(block_line, format!("block {} is not closed", s.name)));
        }
        Ok(())
    }

    fn include(&mut self, path: &Path, line: usize, file: &str) -> Result<(), ConfError> {
        self.depth += 1;
        if self.depth > MAX_INCLUDE_DEPTH {
            return Err(ConfError(format!("{file}: line {line}: maximum include depth exceeded (an .include loop?)")));
        }
        let r = if is_glob(&path.to_string_lossy()) {
            // A pattern need not match anything.
            let files = glob(path).map_err(|e| ConfError(format!("{file}: line {line}: {e}")))?;
            files.iter().try_for_each(|f| self.file(f))
        } else {
            self.file(path)
        };
        self.depth -= 1;
        r
    }
}

type ErrAt<'a> = &'a dyn Fn(usize, String) -> ConfError;

/// `name = v, v;`, `name += v;` or `name;` starting at token `i` (the name); returns the
/// assignment and the index after its ';'.
fn assignment(toks: &[(Tok, usize)], mut i: usize, name: String, err: ErrAt<'_>) -> Result<(Assign, usize), ConfError> {
    let line = toks[i].1;
    let mut a = Assign { name, append: false, values: vec![] };
    i += 1;
    match toks.get(i) {
        Some((Tok::Semi, _)) => return Ok((a, i + 1)),
        Some((op @ (Tok::Eq | Tok::PlusEq), _)) => {
            a.append = *op == Tok::PlusEq;
            i += 1;
        }
        Some((t, l)) => return Err(err(*l, format!("expected '=', '+=' or ';' after {}, found {t}", a.name))),
        None => return Err(err(line, "missing ';'".into())),
    }
    loop {
        match toks.get(i) {
            Some((Tok::Str(v), _)) => a.values.push(v.clone()),
            Some((t, l)) => return Err(err(*l, format!("expected a value, found {t}"))),
            None => return Err(err(line, "missing ';'".into())),
        }
        i += 1;
        match toks.get(i) {
            Some((Tok::Comma, _)) => i += 1,
            Some((Tok::Semi, _)) => return Ok((a, i + 1)),
            Some((t, l)) => return Err(err(*l, format!("expected ';' or ',', found {t}"))),
            None => return Err(err(line, "missing ';'".into())),
        }
    }
}

/// Parse `src`, read from `path` (its directory anchors relative `.include`s).
pub fn parse(src: &str, path: &Path) -> Result<JailConf, ConfError> {
    let mut conf = JailConf::default();
    Parser { conf: &mut conf, depth: 0 }.source(src, path)?;
    Ok(conf)
}

/// Read and parse the file at `path`.
pub fn read(path: &Path) -> Result<JailConf, ConfError> {
    let mut conf = JailConf::default();
    Parser { conf: &mut conf, depth: 0 }.file(path)?;
    Ok(conf)
}

/// A jail's resolved parameters, in order: each a list of strings; a bare boolean is empty.
pub type Params = BTreeMap<String, Vec<String>>;

/// A parameter while a jail's parameters are collected: its values, still with variables.
#[derive(Clone, Debug)]
struct Collected {
    name: String,
    values: Vec<Value>,
}

/// One piece of a value: text, or a variable.
enum Piece {
    Text(String),
    Var(String),
}

fn pieces(v: &Value) -> Result<Vec<Piece>, String> {
    if !v.subst {
        return Ok(vec![Piece::Text(v.text.clone())]);
    }
    let c: Vec<char> = v.text.chars().collect();
    let mut out = vec![];
    let mut text = String::new();
    let mut i = 0;
    while i < c.len() {
        if c[i] == '$' {
            let (name, next) = if c.get(i + 1) == Some(&'{') {
                let end = c[i + 2..].iter().position(|&x| x == '}').ok_or("unterminated ${")?;
                (c[i + 2..i + 2 + end].iter().collect::<String>(), i + 3 + end)
            } else {
                let mut j = i + 1;
                while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_') {
                    j += 1;
                }
                (c[i + 1..j].iter().collect::<String>(), j)
            };
            if !name.is_empty() {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(Piece::Var(name));
                i = next;
                continue;
            }
        }
        text.push(c[i]);
        i += 1;
    }
    if !text.is_empty() || out.is_empty() {
        out.push(Piece::Text(text));
    }
    Ok(out)
}

impl JailConf {
    /// The jails the file defines (not the wildcard blocks), in order, once each.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = vec![];
        for s in self.sections.iter().filter(|s| !is_wild(&s.name)) {
            if !v.contains(&s.name) {
                v.push(s.name.clone());
            }
        }
        v
    }

    /// The parameters of jail `name`, as `load_config` collects them: `name`, then every
    /// wildcard block that matches in file order with the jail's own blocks at their place,
    /// then variables resolved; variables themselves (`$x`) are not parameters.
    pub fn resolve(&self, name: &str) -> Result<Params, ConfError> {
        if !self.sections.iter().any(|s| s.name == name) {
            return Err(ConfError(format!("no jail {name} in the file")));
        }
        let mut coll: Vec<Collected> =
            vec![Collected { name: "name".into(), values: vec![Value { text: name.to_string(), subst: false }] }];
        for s in self.sections.iter().filter(|s| s.name == name || (is_wild(&s.name) && wild_match(&s.name, name))) {
            for a in &s.params {
                let key = a.name.strip_prefix('$').unwrap_or(&a.name).to_string();
                let is_var = a.name.starts_with('$');
                if let Some(c) = coll.iter_mut().find(|c| c.name == key) {
                    if key == "name" {
                        return Err(ConfError(format!("jail {name}: cannot redefine parameter \"name\"")));
                    }
                    if a.append && !a.values.is_empty() {
                        c.values.extend(a.values.iter().cloned());
                    } else {
                        c.values = a.values.clone();
                    }
                } else {
                    let _ = is_var;
                    coll.push(Collected { name: key, values: a.values.clone() });
                }
            }
        }
        // Variables named in the file ($x = ...) are collected like parameters; they are
        // told apart only when the result is returned.
        let vars: Vec<String> = self
            .sections
            .iter()
            .flat_map(|s| s.params.iter())
            .filter_map(|a| a.name.strip_prefix('$').map(str::to_string))
            .collect();
        let mut done: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut out = Params::new();
        for c in &coll {
            let v = resolve_param(name, &c.name, &coll, &mut done, &mut vec![])?;
            if !vars.contains(&c.name) || c.name == "name" {
                out.insert(c.name.clone(), v);
            }
        }
        Ok(out)
    }
}

/// The values of parameter `key` of jail `jail` with its variables substituted.
fn resolve_param(
    jail: &str,
    key: &str,
    coll: &[Collected],
    done: &mut BTreeMap<String, Vec<String>>,
    stack: &mut Vec<String>,
) -> Result<Vec<String>, ConfError> {
    if let Some(v) = done.get(key) {
        return Ok(v.clone());
    }
    if stack.iter().any(|s| s == key) {
        return Err(ConfError(format!("jail {jail}: {key}: variable loop")));
    }
    let c = coll
        .iter()
        .find(|c| c.name == key)
        .ok_or_else(|| ConfError(format!("jail {jail}: variable \"{key}\" not found")))?;
    stack.push(key.to_string());
    let mut out = vec![];
    for v in &c.values {
        let ps = pieces(v).map_err(|e| ConfError(format!("jail {jail}: {key}: {e}")))?;
        let alone = ps.len() == 1;
        let mut s = String::new();
        let mut list: Option<Vec<String>> = None;
        for p in ps {
            match p {
                Piece::Text(t) => s.push_str(&t),
                Piece::Var(n) => {
                    let val = match coll.iter().find(|c| c.name == n) {
                        Some(_) => resolve_param(jail, &n, coll, done, stack)?,
                        None => {
                            return Err(ConfError(format!("jail {jail}: {key}: variable \"{n}\" not found")));
                        }
                    };
                    if val.is_empty() {
                        return Err(ConfError(format!("jail {jail}: {key}: variable \"{n}\" not found")));
                    }
                    if val.len() > 1 {
                        if !alone {
                            return Err(ConfError(format!("jail {jail}: {key}: array cannot be substituted inline")));
                        }
                        list = Some(val);
                    } else {
                        s.push_str(&val[0]);
                    }
                }
            }
        }
        match list {
            Some(l) => out.extend(l),
            None => out.push(s),
        }
    }
    stack.pop();
    done.insert(key.to_string(), out.clone());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> JailConf {
        parse(src, Path::new("/etc/jail.conf")).unwrap()
    }

    #[test]
    fn reads_blocks_defaults_variables_and_appends() {
        let src = r#"
            # defaults
            path = "/jails/$name";
            exec.clean;
            $bridge = "bridge0";
            * { exec.poststop += "/sbin/rel $name"; }
            www {
                vnet;
                exec.prestart += "/sbin/ep -b ${bridge} $name";
                exec.prestart += '/bin/echo $literal';
                vnet.interface = "e0b_$name", e1b_$name, ng0_${name};   // three
                /* a
                   comment */
                host.hostname = "${name}.example.org";
            }
            db { ip6.addr = "igb0|2001:db8::5/64"; }
        "#;
        let c = p(src);
        assert_eq!(c.names(), ["www", "db"]);
        let r = c.resolve("www").unwrap();
        assert_eq!(r["path"], ["/jails/www"]);
        assert_eq!(r["vnet"], Vec::<String>::new());
        assert_eq!(r["exec.clean"], Vec::<String>::new());
        assert_eq!(r["exec.prestart"], ["/sbin/ep -b bridge0 www", "/bin/echo $literal"]);
        assert_eq!(r["exec.poststop"], ["/sbin/rel www"]);
        assert_eq!(r["vnet.interface"], ["e0b_www", "e1b_www", "ng0_www"]);
        assert_eq!(r["host.hostname"], ["www.example.org"]);
        assert!(!r.contains_key("bridge"), "variables are not parameters");
        assert_eq!(c.resolve("db").unwrap()["ip6.addr"], ["igb0|2001:db8::5/64"]);
        assert!(c.resolve("nope").is_err());
    }

    #[test]
    fn variables_resolve_after_every_parameter_is_collected() {
        // Defined after its use, and in the jail's own block; a parameter as a variable.
        let c = p(r#"
            host.hostname = "$name.$domain";
            exec.prestart = "/bin/echo $path";
            www { $domain = example.org; path = "/j/$name"; }
        "#);
        let r = c.resolve("www").unwrap();
        assert_eq!(r["host.hostname"], ["www.example.org"]);
        assert_eq!(r["exec.prestart"], ["/bin/echo /j/www"]);
        // A list substitutes as a list on its own, and not inside other text.
        let c = p("$ifs = a, b; www { vnet.interface = $ifs; x = \"pre-$ifs\"; }");
        let e = c.resolve("www").unwrap_err();
        assert!(e.0.contains("array cannot be substituted inline"), "{e}");
        let c = p("$ifs = a, b; www { vnet.interface = $ifs; }");
        assert_eq!(c.resolve("www").unwrap()["vnet.interface"], ["a", "b"]);
        for (src, want) in [
            ("www { a = $nope; }", "variable \"nope\" not found"),
            ("$a = $b; $b = $a; www { x = $a; }", "variable loop"),
            ("www { name = other; }", "cannot redefine"),
        ] {
            let e = p(src).resolve("www").unwrap_err();
            assert!(e.0.contains(want), "{src}: {e}");
        }
    }

    #[test]
    fn wildcards_and_global_lines_apply_where_they_stand() {
        let c = p(r#"
            a = global;
            www { a = own; b = own; }
            * { b = after; }
            c = late;
            mail.* { d = web; }
            db { }
            mail.smtp { }
        "#);
        let www = c.resolve("www").unwrap();
        assert_eq!(www["a"], ["own"], "a global line before the jail comes first");
        assert_eq!(www["b"], ["after"], "a * block after the jail overrides it");
        assert_eq!(www["c"], ["late"]);
        assert!(!www.contains_key("d"));
        assert_eq!(c.resolve("mail.smtp").unwrap()["d"], ["web"]);
        assert_eq!(c.names(), ["www", "db", "mail.smtp"]);
        assert!(wild_match("*", "a.b"));
        assert!(wild_match("a.*", "a.b"));
        assert!(wild_match("a.*", "a.b.c"));
        assert!(wild_match("*.b", "a.b"));
        assert!(!wild_match("a.*", "a"));
        assert!(!wild_match("*.b", "a.c"));
        assert!(!is_wild("web*") && is_wild("web.*"));
    }

    #[test]
    fn escapes_and_quotes() {
        let c = p(r#"www { a = "tab\there\101"; b = 'lit\n$x'; c = un\ quoted; }"#);
        let r = c.resolve("www").unwrap();
        assert_eq!(r["a"], ["tab\thereA"]);
        assert_eq!(r["b"], ["lit\\n$x"]);
        assert_eq!(r["c"], ["un quoted"]);
    }

    #[test]
    fn includes_with_globs_and_loops() {
        let d = crate::sim::ScratchDir::new("jailconf");
        let dir = d.path();
        std::fs::create_dir_all(dir.join("jail.conf.d")).unwrap();
        std::fs::write(dir.join("jail.conf"), "exec.clean;\n.include \"jail.conf.d/*.conf\";\n").unwrap();
        std::fs::write(dir.join("jail.conf.d/b.conf"), "db { vnet; }\n").unwrap();
        std::fs::write(dir.join("jail.conf.d/a.conf"), "www { vnet; }\n").unwrap();
        std::fs::write(dir.join("jail.conf.d/.hidden.conf"), "hidden { }\n").unwrap();
        std::fs::write(dir.join("jail.conf.d/c.txt"), "txt { }\n").unwrap();
        let c = read(&dir.join("jail.conf")).unwrap();
        assert_eq!(c.names(), ["www", "db"]);
        assert_eq!(c.resolve("db").unwrap()["exec.clean"], Vec::<String>::new());
        // A pattern that matches nothing is fine; a missing plain file is not.
        std::fs::write(dir.join("empty.conf"), ".include \"none/*.conf\";\n").unwrap();
        assert!(read(&dir.join("empty.conf")).unwrap().names().is_empty());
        std::fs::write(dir.join("missing.conf"), ".include \"nope.conf\";\n").unwrap();
        assert!(read(&dir.join("missing.conf")).unwrap_err().0.contains("nope.conf"));
        // A loop is an error, not a crash.
        std::fs::write(dir.join("loop.conf"), ".include \"loop.conf\";\n").unwrap();
        assert!(read(&dir.join("loop.conf")).unwrap_err().0.contains("maximum include depth exceeded"));
    }

    #[test]
    fn errors_name_the_line() {
        for (src, want) in [
            ("www { vnet }", "expected"),
            ("www { a = \"x; }", "unterminated"),
            ("www { a = b }", "expected ';'"),
            ("www { a = b;", "not closed"),
            ("}", "without a block"),
            ("a { b { } }", "do not nest"),
            ("/* x", "unterminated comment"),
            ("www { a = ${x; }", "unterminated ${"),
            // Tokens are named as the file has them, not as the reader calls them.
            ("www { a = ; }", "expected a value, found ';'"),
            ("www { a = \"x\" \"y\"; }", "expected ';' or ',', found \"y\""),
            ("www { = x; }", "expected a name, found '='"),
        ] {
            let e = parse(src, Path::new("/etc/jail.conf")).unwrap_err();
            assert!(e.0.contains(want) && e.0.starts_with("/etc/jail.conf: line 1"), "{src}: {e}");
        }
    }

    #[test]
    fn empty_statements_are_statements() {
        // jailparse.y: `conf: conf ';'`, inside a block, outside, and after a '}'.
        let c = p("; www { ; host.hostname = w; ; }; db { };\n;");
        assert_eq!(c.resolve("www").unwrap().get("host.hostname").map(|v| v.as_slice()), Some(&["w".to_string()][..]));
        assert!(c.resolve("db").is_ok());
    }

    #[test]
    fn the_reader_never_panics() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let alphabet: Vec<char> = "ab$ {}\";,=+'\\/*#\n.x_0{[?".chars().collect();
        let iters: usize = std::env::var("JNET_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        for _ in 0..iters {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 60) as usize;
            let s: String = (0..len)
                .map(|k| {
                    let r = seed.rotate_left(k as u32 * 7);
                    alphabet[(r % alphabet.len() as u64) as usize]
                })
                .collect();
            if let Ok(c) = parse(&s, Path::new("/nonexistent/jail.conf")) {
                for n in c.names() {
                    let _ = c.resolve(&n);
                }
            }
        }
    }
}

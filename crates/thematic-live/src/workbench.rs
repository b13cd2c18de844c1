//! The workbench of `thematic watch --serve`: a page where a person reads a
//! transcript with its codings, codes by selecting words, reviews the
//! stages' suggestions least sure first, and sees the agreement the last
//! run measured. This module serves the page and passes what it asks to a
//! [`Workbench`], which the shell implements over the study; it writes
//! nothing itself.
//!
//! Every write is a POST carrying a token issued with the page that sends
//! it (`X-Thematic-Token`), as JSON, from this server's own origin: a page
//! elsewhere can neither read the token nor send JSON here without it.

use std::collections::VecDeque;
use std::sync::{LazyLock, Mutex, PoisonError};

use thematic_model::{Decision, DeskError, DeskOutline, MemoChange, Saved, ThemeChange, TranscriptView};

/// What the page asks of the study. Implemented by the shell; every call
/// comes from a thread of the server, any number at once.
pub trait Workbench: Send + Sync {
    /// Whose decisions are saved where, the transcripts, codes and agreement.
    fn outline(&self) -> DeskOutline;
    /// A transcript with every coding of it.
    fn transcript(&self, id: &str) -> Result<TranscriptView, DeskError>;
    /// Saves a decision; a refused one writes nothing.
    fn decide(&self, decision: Decision) -> Result<Saved, DeskError>;
    /// Saves a memo; a refused one (changed since the page read it) writes nothing.
    fn write_memo(&self, change: MemoChange) -> Result<Saved, DeskError>;
    /// Changes the themes and areas the study defines; a refused change writes nothing.
    fn shape_themes(&self, change: ThemeChange) -> Result<Saved, DeskError>;
}

/// Tokens of pages served, the newest last; an old page's token lapses.
const TOKENS_KEPT: usize = 64;

/// Larger than any decision or memo the page sends (a year's journal).
pub(crate) const MOST_BODY_BYTES: usize = 4 << 20;

/// The tokens of the workbench pages this server has served.
#[derive(Default)]
pub(crate) struct Tokens(Mutex<VecDeque<String>>);

impl Tokens {
    /// A new token for a page being served.
    pub(crate) fn issue(&self) -> Result<String, String> {
        let token = crate::random_hex().map_err(|e| e.to_string())?;
        let mut tokens = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.push_back(token.clone());
        if tokens.len() > TOKENS_KEPT {
            tokens.pop_front();
        }
        Ok(token)
    }

    /// Whether `given` is a token of a page this server served.
    pub(crate) fn knows(&self, given: &str) -> bool {
        let tokens = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Every token compared whole, so the time taken says nothing of where one differs.
        tokens
            .iter()
            .fold(false, |found, token| crate::same_secret(given, token) | found)
    }
}

/// The workbench page, carrying its token.
pub(crate) fn page(token: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"thematic-token\" content=\"{token}\">\n<title>thematic workbench</title>\n<style>{WORKBENCH_STYLE}</style>\n</head>\n<body>\n{WORKBENCH_BODY}<script>{WORKBENCH_SCRIPT}</script>\n</body>\n</html>\n"
    )
}

/// The hash of the workbench's script, which the Content-Security-Policy allows.
pub(crate) static SCRIPT_HASH: LazyLock<String> = LazyLock::new(|| crate::script_hash(WORKBENCH_SCRIPT));

/// The HTTP status and JSON of a workbench error.
pub(crate) fn failure(error: &DeskError) -> (u16, String) {
    let status = match error {
        DeskError::NotFound(_) => 404,
        DeskError::Refused(_) => 422,
        DeskError::Conflict(_) => 409,
        DeskError::NotSaved(_) => 500,
        DeskError::Unavailable(_) => 503,
    };
    (status, serde_json::json!({ "error": error.to_string() }).to_string())
}

const WORKBENCH_STYLE: &str = "
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: #1a202c; }
header { display: flex; gap: 1rem; align-items: baseline; padding: 0.4rem 1rem; border-bottom: 1px solid #cbd5e0; background: #f7fafc; }
header h1 { font-size: 1.05rem; margin: 0; }
#status { flex: 1; text-align: right; font-size: 0.9rem; }
#status.failed { color: #9b2c2c; font-weight: 600; }
#layout { display: grid; grid-template-columns: 15rem 1fr 22rem; height: calc(100vh - 2.6rem); }
#layout > * { overflow: auto; padding: 0.5rem 0.75rem; }
nav { border-right: 1px solid #e2e8f0; }
aside { border-left: 1px solid #e2e8f0; }
nav ul, aside ul { list-style: none; margin: 0; padding: 0; }
nav li button, #codes li button { width: 100%; text-align: left; background: none; border: 0; padding: 0.15rem 0.3rem; cursor: pointer; font: inherit; }
nav li button[aria-current=true] { background: #ebf4ff; font-weight: 600; }
input[type=search] { width: 100%; box-sizing: border-box; }
.turn { margin: 0 0 0.8rem; }
/* A long transcript, its codings and a large study's list are laid out only where they are in view. */
.turn { content-visibility: auto; contain-intrinsic-size: auto 6rem; }
#review .coding, #own .coding { content-visibility: auto; contain-intrinsic-size: auto 4.5rem; }
#transcripts li { content-visibility: auto; contain-intrinsic-size: auto 1.6rem; }
.who { font-size: 0.8rem; color: #4a5568; }
.turn p { margin: 0; white-space: pre-wrap; }
.piece.suggested { text-decoration: underline dashed #718096; }
.piece.own { border-bottom: 3px solid var(--code); background: color-mix(in srgb, var(--code) 22%, white); }
.piece.focused { outline: 2px solid #d69e2e; }
#picker { position: fixed; z-index: 2; background: white; border: 1px solid #a0aec0; border-radius: 0.3rem; padding: 0.4rem; width: 16rem; box-shadow: 0 3px 8px rgba(0,0,0,.2); }
#picker[hidden] { display: none; }
#picker ul { max-height: 14rem; overflow: auto; margin: 0.3rem 0 0; padding: 0; list-style: none; }
#picker li button { width: 100%; text-align: left; border: 0; background: none; font: inherit; cursor: pointer; }
#picker li button:hover, #picker li button:focus { background: #ebf4ff; }
.swatch { display: inline-block; width: 0.7rem; height: 0.7rem; border-radius: 0.15rem; margin-right: 0.3rem; background: var(--code); }
.coding { border: 1px solid #e2e8f0; border-radius: 0.3rem; padding: 0.3rem 0.4rem; margin: 0 0 0.4rem; font-size: 0.88rem; }
.coding.focused { border-color: #d69e2e; box-shadow: 0 0 0 2px #f6e05e; }
.coding q { display: block; color: #4a5568; }
.coding button { font-size: 0.8rem; margin-right: 0.3rem; }
.keys { font-size: 0.8rem; color: #4a5568; }
table { border-collapse: collapse; font-size: 0.85rem; }
td, th { border: 1px solid #e2e8f0; padding: 0.1rem 0.3rem; text-align: right; }
td:first-child, th:first-child { text-align: left; }
#memo-about, #memo-text { width: 100%; box-sizing: border-box; font: inherit; }
#memo-file { font-size: 0.8rem; color: #4a5568; }
#shape form { display: flex; flex-wrap: wrap; gap: 0.2rem; margin: 0.3rem 0; }
#shape input, #shape select { flex: 1 1 6rem; min-width: 0; font: inherit; font-size: 0.85rem; }
#themes li { margin: 0.2rem 0; }
";

const WORKBENCH_BODY: &str = "<header><h1>thematic workbench</h1><span id=\"who\"></span><a href=\"./\">Report</a><span id=\"status\" role=\"status\" aria-live=\"polite\"></span></header>
<div id=\"layout\">
<nav aria-label=\"Transcripts\"><input type=\"search\" id=\"find-transcript\" placeholder=\"Find a transcript\" aria-label=\"Find a transcript\"><ul id=\"transcripts\"></ul>
<h2>Codes</h2><input type=\"search\" id=\"find-code\" placeholder=\"Find a code\" aria-label=\"Find a code\"><ul id=\"codes\"></ul>
<details id=\"shape\"><summary><h2 style=\"display:inline\">Themes</h2></summary><ul id=\"themes\"></ul>
<form id=\"new-theme\"><input id=\"theme-id\" placeholder=\"Id (T13)\" aria-label=\"New theme's id\" required><input id=\"theme-name\" placeholder=\"Name\" aria-label=\"New theme's name\" required><select id=\"theme-parent\" aria-label=\"Where the new theme goes\"></select><button>Add theme</button></form>
<form id=\"rename-theme\"><select id=\"rename-which\" aria-label=\"Theme to rename\"></select><input id=\"rename-name\" placeholder=\"New name\" aria-label=\"Its new name\" required><button>Rename</button></form>
<form id=\"move-code\"><select id=\"move-code-which\" aria-label=\"Code to move\"></select><select id=\"move-code-to\" aria-label=\"Theme to move it into\"></select><button>Move code</button></form>
<form id=\"move-theme\"><select id=\"move-theme-which\" aria-label=\"Theme to move\"></select><select id=\"move-theme-to\" aria-label=\"Area to move it into\"></select><button>Move theme</button></form>
<form id=\"new-area\"><input id=\"area-id\" placeholder=\"Id (A4)\" aria-label=\"New area's id\" required><input id=\"area-name\" placeholder=\"Name\" aria-label=\"New area's name\" required><button>Add area</button></form>
</details></nav>
<main id=\"transcript\" aria-label=\"Transcript\"><p>Choose a transcript.</p></main>
<aside aria-label=\"Codings\"><p id=\"problem\" hidden></p><h2>To review</h2><p class=\"keys\">j / k: next / previous · a: accept · r: reject · select words to code them</p><ul id=\"review\"></ul><h2>Your codings</h2><ul id=\"own\"></ul>
<h2>Memo</h2><select id=\"memo-about\" aria-label=\"What the memo is about\"></select><textarea id=\"memo-text\" rows=\"8\" aria-label=\"Memo\"></textarea><p><button type=\"button\" id=\"memo-save\">Save memo</button> <span class=\"keys\">Ctrl+Enter saves · empty takes it away</span> <span id=\"memo-file\"></span></p>
<h2>Agreement</h2><div id=\"agreement\"></div></aside>
</div>
<div id=\"picker\" hidden><input type=\"search\" id=\"pick-code\" placeholder=\"Code the selection as…\" aria-label=\"Code the selection as\"><ul id=\"picks\"></ul></div>
";

/// The workbench's behaviour. It never changes (the token is in the page's
/// `<meta>`), so the Content-Security-Policy allows it by its hash.
const WORKBENCH_SCRIPT: &str = r##"
(() => {
  const token = document.querySelector("meta[name=thematic-token]").content;
  const $ = (id) => document.getElementById(id);
  const el = (tag, props, ...children) => {
    const node = Object.assign(document.createElement(tag), props || {});
    node.append(...children);
    return node;
  };
  let outline = null;
  let view = null;
  let chars = [];
  let focus = 0;
  let selection = null;
  let run = null;
  const colours = new Map();
  const colour = (code) => {
    if (!colours.has(code)) colours.set(code, "hsl(" + ((colours.size * 137) % 360) + " 65% 45%)");
    return colours.get(code);
  };
  const say = (text, failed) => {
    $("status").textContent = text;
    $("status").classList.toggle("failed", !!failed);
  };
  const json = async (response) => {
    const body = await response.json();
    if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status });
    return body;
  };
  const ask = async (path) => json(await fetch(path, { cache: "no-store" }));
  // Resolves once the browser has drawn what was just put in the page.
  const drawn = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  // How long the last step took, from the person's action to the page drawn (read by bench/workbench.py).
  const timed = (what, started) => {
    document.body.dataset[what + "InMs"] = String(Math.round(performance.now() - started));
    document.body.dataset[what] = String(Number(document.body.dataset[what] || 0) + 1);
  };
  const post = async (path, body) => json(await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Thematic-Token": token },
    body: JSON.stringify(body),
  }));
  const decide = async (decision) => {
    const started = performance.now();
    say("Saving…");
    try {
      const saved = await post("work/decide", decision);
      try {
        await showDecided();
      } catch (error) {
        say("Saved to " + saved.file + ": " + saved.said + "; the transcript could not be shown again: " + error.message, true);
        return;
      }
      say("Saved to " + saved.file + ": " + saved.said);
      timed("saved", started);
    } catch (error) {
      // The text changed under the page (409): it is shown as it is now.
      if (error.status === 409) await openTranscript(view.id, true);
      say("Not saved: " + error.message, true);
    }
  };
  const excerpt = (coding) => chars.slice(coding.start, coding.end).join("");
  const showOutline = () => {
    $("who").textContent = "coding as " + outline.coder + " → " + outline.codings_file;
    $("problem").hidden = !outline.problem;
    $("problem").textContent = outline.problem || "";
    const wanted = $("find-transcript").value.toLowerCase();
    $("transcripts").replaceChildren(...outline.transcripts
      .filter((t) => t.id.toLowerCase().includes(wanted) || (t.participant || "").toLowerCase().includes(wanted))
      .map((t) => {
        const button = el("button", { type: "button", textContent: t.id + (t.participant ? " (" + t.participant + ")" : "") });
        button.dataset.id = t.id;
        button.setAttribute("aria-current", "false");
        button.addEventListener("click", () => openTranscript(t.id));
        return el("li", null, button);
      }));
    const code = $("find-code").value.toLowerCase();
    $("codes").replaceChildren(...codeTree(code).map(([c, depth]) => {
      const item = el("li", { title: c.description || "" }, el("span", { className: "swatch" }), c.name || c.id);
      item.style.setProperty("--code", colour(c.id));
      item.style.paddingLeft = depth + "rem";
      return item;
    }));
    showAgreement();
    showThemes();
    showMemoChoices();
    markCurrent();
    showMemo();
  };
  // The shown transcript marked in the list, which is not made again for it.
  const markCurrent = () => document.querySelectorAll("#transcripts button").forEach((button) => {
    const current = String(!!view && button.dataset.id === view.id);
    if (button.getAttribute("aria-current") !== current) button.setAttribute("aria-current", current);
  });
  // Themes as thematic.toml defines them, shaped with the forms under them.
  const options = (select, choices) => {
    const kept = select.value;
    select.replaceChildren(...choices.map(([value, label]) => el("option", { value, textContent: label })));
    if (choices.some(([value]) => value === kept)) select.value = kept;
  };
  const showThemes = () => {
    $("themes").replaceChildren(...outline.themes.map((t) => {
      const item = el("li", null, el("strong", { textContent: t.id }), " " + t.name + (t.area ? " · " + t.area : "") + (t.defined ? "" : " (proposed by a stage)"),
        el("div", { className: "keys", textContent: t.codes.join(", ") || "no codes" }));
      item.style.paddingLeft = (t.parent ? 1 : 0) + "rem";
      item.dataset.theme = t.id;
      return item;
    }));
    const defined = outline.themes.filter((t) => t.defined);
    const labelled = (t) => [t.id, t.id + ": " + t.name];
    const topLevel = defined.filter((t) => !t.parent);
    options($("theme-parent"), [["", "a theme of its own"], ...topLevel.map((t) => [t.id, "under " + labelled(t)[1]])]);
    options($("rename-which"), defined.map(labelled));
    options($("move-code-which"), outline.codes.map((c) => [c.id, c.name ? c.id + ": " + c.name : c.id]));
    options($("move-code-to"), [...defined.map((t) => [t.id, "into " + labelled(t)[1]]), ["", "out of every theme"]]);
    options($("move-theme-which"), topLevel.map(labelled));
    options($("move-theme-to"), [...outline.areas.map((a) => [a.id, "into " + a.id + ": " + a.name]), ["", "out of every area"]]);
  };
  const shape = async (change) => {
    say("Saving…");
    try {
      const saved = await post("work/themes", change);
      outline = await ask("work/outline");
      showOutline();
      say("Saved to " + saved.file + ": " + saved.said);
      return true;
    } catch (error) {
      say("Not saved: " + error.message, true);
      return false;
    }
  };
  const onSubmit = (form, change) => $(form).addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await shape(change())) $(form).querySelectorAll("input").forEach((input) => { input.value = ""; });
  });
  onSubmit("new-theme", () => ({ kind: "new_theme", id: $("theme-id").value.trim(), name: $("theme-name").value.trim(), parent: $("theme-parent").value || null }));
  onSubmit("rename-theme", () => ({ kind: "rename_theme", id: $("rename-which").value, name: $("rename-name").value.trim() }));
  onSubmit("move-code", () => ({ kind: "move_code", code: $("move-code-which").value, to: $("move-code-to").value || null }));
  onSubmit("move-theme", () => ({ kind: "move_theme", theme: $("move-theme-which").value, area: $("move-theme-to").value || null }));
  onSubmit("new-area", () => ({ kind: "new_area", id: $("area-id").value.trim(), name: $("area-name").value.trim() }));
  // Memos: the one chosen, each kept as a draft (with the version it was begun on) until saved.
  const JOURNAL = "memos/journal.md";
  const drafts = new Map();
  const memoKey = () => {
    const chosen = $("memo-about").value;
    return chosen === "this" ? (view ? "transcript:" + view.id : "study") : chosen;
  };
  const aboutOf = (key) => key === "study" ? { kind: "study" } : { kind: key.slice(0, key.indexOf(":")), id: key.slice(key.indexOf(":") + 1) };
  const storedMemo = (key) => {
    const about = aboutOf(key);
    return outline.memos.find((m) => m.about.kind === about.kind && (about.kind === "study" ? m.file === JOURNAL : m.about.id === about.id));
  };
  const showMemoChoices = () => {
    const select = $("memo-about");
    const chosen = select.value || "this";
    const choices = [["this", "This transcript"], ["study", "The study's journal"],
      ...outline.themes.map((t) => ["theme:" + t.id, "Theme " + t.id + ": " + t.name]),
      ...outline.codes.map((c) => ["code:" + c.id, "Code " + (c.name ? c.id + ": " + c.name : c.id)])];
    select.replaceChildren(...choices.map(([value, label]) => el("option", { value, textContent: label })));
    select.value = choices.some(([value]) => value === chosen) ? chosen : "this";
  };
  const showMemo = () => {
    const key = memoKey();
    const stored = storedMemo(key);
    const draft = drafts.get(key);
    const text = draft ? draft.text : stored ? stored.text : "";
    // Left alone while it already reads so, so that the caret stays where the person is typing.
    if ($("memo-text").value !== text) $("memo-text").value = text;
    $("memo-file").textContent = (stored ? stored.file : "a new memo") + (draft ? " · not saved yet" : "");
  };
  const saveMemo = async () => {
    const key = memoKey();
    const stored = storedMemo(key);
    const draft = drafts.get(key) || { text: $("memo-text").value, was: stored ? stored.version : "" };
    say("Saving…");
    try {
      const saved = await post("work/memo", { about: aboutOf(key), text: draft.text, was: draft.was });
      outline = await ask("work/outline");
      // What was typed while it was saved stays a draft, on the version just saved.
      const now = drafts.get(key);
      if (now && now.text !== draft.text) now.was = (storedMemo(key) || { version: "" }).version;
      else drafts.delete(key);
      showOutline();
      say("Saved to " + saved.file + ": " + saved.said);
    } catch (error) {
      say("Not saved: " + error.message, true);
      if (error.status !== 409) return;
      // Changed meanwhile: the text saved meanwhile is put under the person's, to merge and save over it.
      outline = await ask("work/outline");
      const newer = storedMemo(key);
      drafts.set(key, {
        text: draft.text + "\n\n----- saved meanwhile by someone else; merge, then save -----\n" + (newer ? newer.text : "(taken away)"),
        was: newer ? newer.version : "",
      });
      showOutline();
    }
  };
  $("memo-text").addEventListener("input", () => {
    const key = memoKey();
    const stored = storedMemo(key);
    const begun = drafts.get(key);
    drafts.set(key, { text: $("memo-text").value, was: begun ? begun.was : stored ? stored.version : "" });
    showMemo();
  });
  $("memo-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      saveMemo();
    }
  });
  $("memo-about").addEventListener("change", showMemo);
  $("memo-save").addEventListener("click", saveMemo);
  const codeTree = (wanted) => {
    const codes = outline.codes.filter((c) => !wanted || c.id.toLowerCase().includes(wanted) || (c.name || "").toLowerCase().includes(wanted));
    if (wanted) return codes.map((c) => [c, 0]);
    const out = [];
    const place = (parent, depth) => codes.filter((c) => (c.parent || null) === parent).forEach((c) => {
      out.push([c, depth]);
      place(c.id, depth + 1);
    });
    place(null, 0);
    codes.filter((c) => !out.some(([o]) => o === c)).forEach((c) => out.push([c, 0]));
    return out;
  };
  const figure = (x) => (x === null || x === undefined ? "–" : x.toFixed(2));
  const showAgreement = () => {
    const tables = outline.agreements.map((a) => {
      const rows = a.codes.filter(([, g]) => g).map(([code, g]) => el("tr", null, el("td", { textContent: code }), el("td", { textContent: g.units }), el("td", { textContent: (g.percent * 100).toFixed(0) + "%" }), el("td", { textContent: figure(g.kappa) })));
      const pooled = a.pooled ? [el("tr", null, el("th", { textContent: "all codes" }), el("th", { textContent: a.pooled.units }), el("th", { textContent: (a.pooled.percent * 100).toFixed(0) + "%" }), el("th", { textContent: figure(a.pooled.kappa) }))] : [];
      return el("table", { className: "agreement" },
        el("caption", { textContent: a.first + " and " + a.second + " (" + a.transcripts + " transcripts)" }),
        el("thead", null, el("tr", null, ...["Code", "Units", "Agree", "κ"].map((h) => el("th", { textContent: h })))),
        el("tbody", null, ...rows, ...pooled));
    });
    $("agreement").replaceChildren(...(tables.length ? tables : [el("p", { textContent: "No [[agreement]] in thematic.toml yet." })]));
  };
  const review = () => view ? view.codings.filter((c) => c.standing === "suggested") : [];
  const pieceClass = (covering) => {
    const own = covering.find((c) => c.standing === "own" || c.standing === "found" || c.standing === "accepted");
    return own ? ["own", own.code] : covering.some((c) => c.standing === "suggested") ? ["suggested", null] : [null, null];
  };
  const shownCodings = (shown) => shown.codings.filter((c) => c.standing !== "rejected" && c.standing !== "stale");
  const covers = (turn) => (c) => c.start < turn.end && turn.start < c.end;
  // What a turn shows of the codings: when it is the same, the turn is not drawn again.
  const signature = (turn, codings) => codings.filter(covers(turn)).map((c) => [c.code, c.stage, c.start, c.end, c.standing].join(" ")).join("|");
  const showTranscript = () => {
    const codings = shownCodings(view);
    const turns = view.turns.map((turn) => turnSection(turn, codings));
    const problems = view.problems.map((p) => el("p", { className: "problem", textContent: p }));
    $("transcript").replaceChildren(el("h2", { textContent: view.id }), ...problems, ...turns);
    showCodings();
  };
  // After a decision: only the turns whose codings changed are drawn again.
  const updateTranscript = (before) => {
    const [codings, earlier] = [shownCodings(view), shownCodings(before)];
    const sections = new Map([...document.querySelectorAll("#transcript .turn")].map((s) => [s.dataset.turn, s]));
    for (const turn of view.turns) {
      const section = sections.get(String(turn.turn));
      if (section && signature(turn, codings) !== signature(turn, earlier)) section.replaceWith(turnSection(turn, codings));
    }
    showCodings();
  };
  const turnSection = (turn, codings) => {
    const cuts = new Set([turn.start, turn.end]);
    for (const c of codings) {
      if (c.start > turn.start && c.start < turn.end) cuts.add(c.start);
      if (c.end > turn.start && c.end < turn.end) cuts.add(c.end);
    }
    const points = [...cuts].sort((a, b) => a - b);
    const pieces = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const [from, to] = [points[i], points[i + 1]];
      const covering = codings.filter((c) => c.start < to && from < c.end);
      const piece = el("span", { className: "piece", textContent: chars.slice(from, to).join("") });
      piece.dataset.start = from;
      piece.dataset.end = to;
      const [kind, code] = pieceClass(covering);
      if (kind) piece.classList.add(kind);
      if (code) piece.style.setProperty("--code", colour(code));
      if (covering.length) piece.title = covering.map((c) => c.code + (c.stage ? " (" + c.stage + (c.confidence !== null ? ", " + c.confidence.toFixed(2) : "") + ")" : "")).join("\n");
      pieces.push(piece);
    }
    const when = turn.start_ms !== null && turn.start_ms !== undefined ? " · " + new Date(turn.start_ms).toISOString().slice(11, 19) : "";
    const who = el("div", { className: "who", textContent: "Turn " + turn.turn + " · " + (turn.speaker || turn.role) + (turn.participant ? " (" + turn.participant + ")" : "") + when });
    const section = el("section", { className: "turn" }, who, el("p", null, ...pieces));
    section.dataset.turn = turn.turn;
    return section;
  };
  const showCodings = () => {
    const queue = review();
    if (focus >= queue.length) focus = Math.max(0, queue.length - 1);
    $("review").replaceChildren(...queue.map((c, at) => {
      const item = el("li", { className: "coding" + (at === focus ? " focused" : "") },
        el("strong", { textContent: c.code }), " ", c.stage + (c.confidence !== null ? " · " + c.confidence.toFixed(2) : ""),
        el("q", { textContent: excerpt(c) }));
      const accept = el("button", { type: "button", textContent: "Accept" });
      accept.addEventListener("click", () => acceptAt(at));
      const reject = el("button", { type: "button", textContent: "Reject" });
      reject.addEventListener("click", () => rejectAt(at));
      item.append(accept, reject);
      item.addEventListener("click", () => { focus = at; showFocus(); });
      return item;
    }));
    const own = view.codings.filter((c) => c.standing === "own" || c.standing === "found" || c.standing === "stale");
    $("own").replaceChildren(...own.map((c) => {
      const item = el("li", { className: "coding" }, el("span", { className: "swatch" }), el("strong", { textContent: c.code }),
        ({ stale: " (made on another version of this transcript, whose words are not in it now: kept, not applied)",
          found: " (made on another version of this transcript: found again at the same words)" })[c.standing] || "",
        el("q", { textContent: c.standing === "stale" ? "" : excerpt(c) }));
      item.style.setProperty("--code", colour(c.code));
      const remove = el("button", { type: "button", textContent: "Remove" });
      remove.addEventListener("click", () => decide({ kind: "uncode", transcript: view.id, code: c.code, start: c.start, end: c.end, text_sha256: view.content_hash }));
      const recode = el("button", { type: "button", textContent: "Recode" });
      recode.addEventListener("click", (event) => openPicker(event.target.getBoundingClientRect(), (to) =>
        decide({ kind: "recode", transcript: view.id, code: c.code, start: c.start, end: c.end, to, text_sha256: view.content_hash })));
      item.append(remove, recode);
      return item;
    }));
    showFocus();
  };
  const showFocus = () => {
    document.querySelectorAll(".piece.focused").forEach((p) => p.classList.remove("focused"));
    document.querySelectorAll("#review .coding").forEach((item, at) => item.classList.toggle("focused", at === focus));
    const c = review()[focus];
    if (!c) return;
    const pieces = [...document.querySelectorAll(".piece")].filter((p) => Number(p.dataset.start) < c.end && c.start < Number(p.dataset.end));
    pieces.forEach((p) => p.classList.add("focused"));
    if (pieces.length) pieces[0].scrollIntoView({ block: "nearest" });
  };
  const acceptAt = (at) => {
    const c = review()[at];
    if (c) decide({ kind: "code", transcript: view.id, code: c.code, start: c.start, end: c.end, text_sha256: view.content_hash });
  };
  const rejectAt = (at) => {
    const c = review()[at];
    if (c) decide({ kind: "reject", transcript: view.id, stage: c.stage, code: c.code, start: c.start, end: c.end, text_sha256: view.content_hash });
  };
  const openTranscript = async (id, keep) => {
    const started = performance.now();
    try {
      view = await ask("work/transcript?id=" + encodeURIComponent(id));
    } catch (error) {
      say("Could not open " + id + ": " + error.message, true);
      return;
    }
    chars = Array.from(view.text);
    history.replaceState(null, "", "#" + encodeURIComponent(view.id));
    if (!keep) focus = 0;
    showTranscript();
    markCurrent();
    showMemo();
    document.body.dataset.shown = view.id;
    await drawn();
    timed("opened", started);
  };
  // The shown transcript asked for again after a decision, and what changed drawn.
  const showDecided = async () => {
    const before = view;
    view = await ask("work/transcript?id=" + encodeURIComponent(before.id));
    const same = view.content_hash === before.content_hash && view.problems.join() === before.problems.join()
      && JSON.stringify(view.turns) === JSON.stringify(before.turns);
    if (same) {
      updateTranscript(before);
    } else {
      chars = Array.from(view.text);
      showTranscript();
    }
    await drawn();
  };
  // A point of the selection as a code-point offset of the text. In a piece's
  // text, counted from the piece's start; between elements (a selection that
  // ends at the next turn), the start of the first piece after it, or for
  // its end the end of the last piece before it.
  const offsetOf = (node, offset, isEnd) => {
    if (node.nodeType === 3 && node.parentElement && node.parentElement.closest(".piece")) {
      const piece = node.parentElement.closest(".piece");
      return Number(piece.dataset.start) + Array.from(node.data.slice(0, offset)).length;
    }
    const point = document.createRange();
    point.setStart(node, offset);
    const pieces = [...document.querySelectorAll("#transcript .piece")];
    if (isEnd) {
      const before = pieces.filter((p) => point.comparePoint(p, p.childNodes.length) <= 0).pop();
      return before ? Number(before.dataset.end) : null;
    }
    const after = pieces.find((p) => point.comparePoint(p, 0) >= 0);
    return after ? Number(after.dataset.start) : null;
  };
  let picked = null;
  const openPicker = (at, then) => {
    picked = then;
    const picker = $("picker");
    picker.hidden = false;
    picker.style.left = Math.min(at.left, window.innerWidth - 280) + "px";
    picker.style.top = Math.min(at.bottom + 4, window.innerHeight - 260) + "px";
    $("pick-code").value = "";
    showPicks();
    $("pick-code").focus();
  };
  const closePicker = () => {
    $("picker").hidden = true;
    picked = null;
  };
  const showPicks = () => {
    const wanted = $("pick-code").value.toLowerCase();
    $("picks").replaceChildren(...codeTree(wanted).map(([c]) => {
      const button = el("button", { type: "button" }, el("span", { className: "swatch" }), c.name || c.id);
      button.style.setProperty("--code", colour(c.id));
      button.dataset.code = c.id;
      button.addEventListener("click", () => {
        const then = picked;
        closePicker();
        if (then) then(c.id);
      });
      return el("li", null, button);
    }));
  };
  $("pick-code").addEventListener("input", showPicks);
  $("pick-code").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      const first = $("picks").querySelector("button");
      if (first) first.click();
    } else if (event.key === "Escape") {
      closePicker();
    }
    event.stopPropagation();
  });
  $("find-transcript").addEventListener("input", showOutline);
  $("find-code").addEventListener("input", showOutline);
  $("transcript").addEventListener("mouseup", () => {
    const chosen = window.getSelection();
    if (!view || chosen.isCollapsed || !chosen.rangeCount) return;
    const range = chosen.getRangeAt(0);
    const start = offsetOf(range.startContainer, range.startOffset, false);
    const end = offsetOf(range.endContainer, range.endOffset, true);
    if (start === null || end === null || end <= start) return;
    // The text the words were selected in: a pass may show another before a code is picked.
    selection = { start, end, hash: view.content_hash };
    openPicker(range.getBoundingClientRect(), (code) => {
      decide({ kind: "code", transcript: view.id, code, start: selection.start, end: selection.end, text_sha256: selection.hash });
      window.getSelection().removeAllRanges();
    });
  });
  document.addEventListener("keydown", (event) => {
    // Keys with a modifier are the browser's (select all, reload); a held key decides once.
    if (event.target.matches("input, textarea, select") || !view || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const queue = review();
    if (event.key === "j" || event.key === "ArrowDown") focus = Math.min(focus + 1, queue.length - 1);
    else if (event.key === "k" || event.key === "ArrowUp") focus = Math.max(focus - 1, 0);
    else if (event.key === "a") return acceptAt(focus);
    else if (event.key === "r") return rejectAt(focus);
    else if (event.key === "Escape") return closePicker();
    else return;
    event.preventDefault();
    showFocus();
  });
  // The transcript the address names (#ID); none where it is not a well-formed one.
  const addressed = () => {
    try {
      return decodeURIComponent(location.hash.slice(1));
    } catch {
      return "";
    }
  };
  const follow = async () => {
    try {
      const info = await ask("run");
      // A failed run changes no report, but may be why the person's codings are not shown.
      const now = info.run + ":" + info.error;
      if (now !== run) {
        run = now;
        outline = await ask("work/outline");
        showOutline();
        // The first time, the transcript the address names (#ID), else the first.
        const wanted = view ? view.id : addressed() || (outline.transcripts[0] || {}).id;
        if (wanted) await openTranscript(wanted, !!view);
        document.body.dataset.run = String(info.run);
      }
    } catch (error) {
      say("thematic watch does not answer: " + error.message, true);
    }
    setTimeout(follow, 1000);
  };
  window.addEventListener("hashchange", () => {
    const wanted = addressed();
    if (outline && wanted && (!view || wanted !== view.id)) openTranscript(wanted);
  });
  follow();
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_known_until_newer_pages_push_it_out() {
        let tokens = Tokens::default();
        let first = tokens.issue().unwrap();
        assert!(tokens.knows(&first));
        assert!(!tokens.knows(""));
        assert!(!tokens.knows(&first[1..]));
        for _ in 0..TOKENS_KEPT {
            tokens.issue().unwrap();
        }
        assert!(!tokens.knows(&first), "an old page's token lapses");
    }

    #[test]
    fn the_page_carries_its_token_and_the_script_the_policy_allows() {
        let page = page("abc123");
        assert!(page.contains("<meta name=\"thematic-token\" content=\"abc123\">"));
        assert_eq!(crate::script_hash(crate::inline_script(&page)), *SCRIPT_HASH);
    }
}

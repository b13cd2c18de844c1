---@meta thematic
-- Type definitions for thematic's Lua scripts, for the Lua language server
-- (LuaLS). Point `workspace.library` in `.luarc.json` at this file. A test
-- keeps it in step with the functions the host really provides.

---A segment (speaker turn) a coding script is given.
---@class thematic.Segment
---@field transcript string The transcript's path in the study.
---@field turn integer 1 for the first turn of the transcript.
---@field speaker string? The speaker label.
---@field role string `participant`, `interviewer`, `preamble` or a configured role.
---@field participant string? The participant's id, for participant turns.
---@field attributes table<string, string>? The participant's attributes.
---@field text string The turn, speaker label included; annotations (`[laughs]`, `(redacted)`) blanked to spaces of the same length.
---@field start_ms integer? When the turn began, in milliseconds, for captions and timestamped transcripts.
---@field end_ms integer? When it ended.

---A research question of the study.
---@class thematic.Question
---@field id string
---@field text string

---A code of the stage's codebook.
---@class thematic.Code
---@field id string
---@field name string?
---@field description string?
---@field parent string?
---@field questions string[]
---@field terms string[]

---What a coding script knows of the study.
---@class thematic.Context
---@field params table The stage's `params` from thematic.toml.
---@field questions thematic.Question[]
---@field codebook thematic.Code[]

---A coding a script returns.
---@class thematic.Coding
---@field code string
---@field spans? integer[][] `{first, last}` byte positions in `segment.text`, 1-based, inclusive.
---@field confidence? number
---@field memo? string
---@field turn? integer Required from `code_document`.

---A word or sentence and where it stands in the text (1-based, inclusive bytes).
---@class thematic.Piece
---@field text string
---@field first integer
---@field last integer

---A term occurrence found by a dictionary.
---@class thematic.Found
---@field code string
---@field first integer
---@field last integer

---A sentence embedding: the stage's model's vector for a text, of length one.
---@alias thematic.Vector number[]

---A candidate `thematic.nearest` found near, by its place in the list it was given.
---@class thematic.Near
---@field index integer
---@field similarity number Cosine similarity, -1 to 1.

---A dictionary compiled by the host: the builtin `dictionary` strategy's matching.
---@class thematic.Dictionary
local Dictionary = {}

---The codes whose terms occur in `text`, sorted.
---@param text string
---@return string[]
function Dictionary:codes(text) end

---Every term occurrence in `text`, in order of where it ends.
---@param text string
---@return thematic.Found[]
function Dictionary:find(text) end

---A regular expression compiled by the host (Rust `regex` syntax: linear time).
---@class thematic.Regex
local Regex = {}

---Whether the expression matches somewhere in `text`.
---@param text string
---@return boolean
function Regex:is_match(text) end

---Every match in `text`.
---@param text string
---@return thematic.Piece[]
function Regex:find(text) end

---The host API.
thematic = {}

---Compiles a dictionary: code to terms (`*` at the end of a term lets the last word go on).
---@param terms table<string, string[]>
---@return thematic.Dictionary
function thematic.dictionary(terms) end

---Compiles a regular expression, case-insensitive unless `case_insensitive` is false.
---@param pattern string
---@param case_insensitive? boolean
---@return thematic.Regex
function thematic.regex(pattern, case_insensitive) end

---The words of `text` (letters, numbers and `_` of any script).
---@param text string
---@return thematic.Piece[]
function thematic.words(text) end

---The sentences of `text` (ended by `.`, `!`, `?` or a line break).
---@param text string
---@return thematic.Piece[]
function thematic.sentences(text) end

---The embedding of `texts` by the stage's model (`model = "NAME"` on the stage):
---one vector for a text, a list of vectors for a list of texts (at most 1,000 a call).
---@param texts string|string[]
---@return thematic.Vector|thematic.Vector[]
function thematic.embed(texts) end

---The cosine similarity of two vectors, or of two texts (embedded first), -1 to 1.
---@param a string|thematic.Vector
---@param b string|thematic.Vector
---@return number
function thematic.similarity(a, b) end

---The `count` (default 1) of `candidates` nearest to `to`, nearest first.
---@param to string|thematic.Vector
---@param candidates (string|thematic.Vector)[]
---@param count? integer
---@return thematic.Near[]
function thematic.nearest(to, candidates, count) end

---Leaves a message for the run summary.
---@param ... any
function thematic.log(...) end

---Codes one segment. Define this or `code_document`.
---@param segment thematic.Segment
---@param context thematic.Context
---@return thematic.Coding[]?
function code(segment, context) end

---Codes all segments of one transcript at once.
---@param segments thematic.Segment[]
---@param context thematic.Context
---@return thematic.Coding[]?
function code_document(segments, context) end

---How one code was used across the study.
---@class thematic.CodeUse
---@field segments integer Segments carrying the code.
---@field participants string[] Participants with such a segment.
---@field extracts? thematic.Extract[] The segments carrying the code, with their words; only for a stage that names a `model`.

---A segment carrying a code, as a theme script that names a model sees it.
---@class thematic.Extract
---@field transcript string The transcript's path in the study.
---@field turn integer
---@field participant string? Who speaks the turn; nil for no participant.
---@field text string What was said in the turn.

---Two codes found on the same segments (`a < b`).
---@class thematic.Pair
---@field a string
---@field b string
---@field segments integer Segments carrying both.
---@field participants string[] Participants with such a segment.

---What a theme-grouping script sees of the coding.
---@class thematic.Summary
---@field codes table<string, thematic.CodeUse>
---@field cooccurrence thematic.Pair[]

---A candidate theme a grouping script returns.
---@class thematic.Theme
---@field id string Unique among all themes and sub-themes.
---@field name string
---@field codes? string[]
---@field subthemes? thematic.Theme[]

---A theme as reviewed, given to an area-mapping script.
---@class thematic.ReviewedTheme
---@field id string
---@field name string
---@field codes string[]
---@field covered string[] Participants the theme covers.
---@field discarded string? The review's reason; nil for a kept theme.

---A discussion area a mapping script returns.
---@class thematic.Area
---@field id string
---@field name string
---@field themes? string[] Theme ids.

---What a theme or area script knows of the study.
---@class thematic.StageContext
---@field params table The stage's `params` from thematic.toml.

---Proposes candidate themes (a `themes` stage). The review rule then keeps or discards each.
---@param summary thematic.Summary
---@param context thematic.StageContext
---@return thematic.Theme[]
function group(summary, context) end

---Groups the reviewed themes into discussion areas (an `areas` stage).
---@param themes thematic.ReviewedTheme[]
---@param context thematic.StageContext
---@return thematic.Area[]
function map(themes, context) end

---Codes this script may return (so that themes can name them).
---@type string[]
codes = {}

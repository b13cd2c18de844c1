-- Emotion lexicon: codes anger, fear, sadness, shame and relief where their
-- words occur, but not where a negation stands within the three words before
-- in the same sentence ("not angry", "never really frightened", "wasn't upset").

local codings = require("codings")

codes = { "anger", "fear", "sadness", "shame", "relief" }

local lexicon = thematic.dictionary({
  anger = { "angry", "anger", "furious", "livid", "rage", "resent*" },
  fear = { "afraid", "scared", "frightened", "terrified", "anxious", "dread*" },
  sadness = { "sad", "upset", "tearful", "heartbroken", "grief", "griev*" },
  shame = { "ashamed", "shame", "embarrass*", "humiliat*" },
  relief = { "relieved", "relief" },
})

local NEGATIONS = { "not", "never", "no", "nor", "without", "hardly", "n't" }
local WINDOW = 3

-- Whether a negation stands within WINDOW words before byte `first` of `text`.
local function negated(text, words, first)
  local before = {}
  for _, word in ipairs(words) do
    if word.last < first then
      before[#before + 1] = word
    end
  end
  if #before == 0 then
    return false
  end
  local from = before[math.max(1, #before - WINDOW + 1)].first
  local span = text:sub(from, first - 1)
  -- A negation does not reach across the end of a sentence or clause.
  local cut = span:match(".*()[%.!?;]")
  if cut then
    span = span:sub(cut + 1)
  end
  local window = " " .. span:lower() .. " "
  for _, negation in ipairs(NEGATIONS) do
    if negation == "n't" then
      if window:find("n[’']t", 1) then
        return true
      end
    elseif window:find("%f[%w]" .. negation .. "%f[%W]") then
      return true
    end
  end
  return false
end

function code(segment, context)
  local found = lexicon:find(segment.text)
  if #found == 0 then
    return nil
  end
  local words = thematic.words(segment.text)
  return codings.from_hits(found, function(hit)
    return not negated(segment.text, words, hit.first)
  end)
end

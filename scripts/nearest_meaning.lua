-- Coding by meaning, written as a script: each sentence of a turn gets the
-- code whose description (or name) it is nearest to, if it is near enough.
-- The stage names the model it embeds with, beside the script:
--
--   [[stages]]
--   name = "my-meaning"
--   kind = "coding"
--   strategy = "lua"
--   script = "scripts/nearest_meaning.lua"
--   codebook = "leadership"
--   model = "all-MiniLM-L6-v2"
--   params = { min_similarity = 0.35 }

local meanings -- the codes' ids and embedded meanings, made on the first call

local function embed_meanings(codebook)
  local ids, texts = {}, {}
  for _, code in ipairs(codebook) do
    ids[#ids + 1] = code.id
    texts[#texts + 1] = code.description or code.name or code.id
  end
  return { ids = ids, vectors = thematic.embed(texts) }
end

function code(segment, context)
  if #context.codebook == 0 then
    return nil
  end
  meanings = meanings or embed_meanings(context.codebook)
  local wanted = context.params.min_similarity or 0.35
  local sentences = thematic.sentences(segment.text)
  if #sentences == 0 then
    return nil
  end
  local texts = {}
  for i, sentence in ipairs(sentences) do
    texts[i] = sentence.text
  end
  local codings = {}
  for i, vector in ipairs(thematic.embed(texts)) do
    local best = thematic.nearest(vector, meanings.vectors)[1]
    if best and best.similarity >= wanted then
      codings[#codings + 1] = {
        code = meanings.ids[best.index],
        spans = { { sentences[i].first, sentences[i].last } },
        confidence = best.similarity,
      }
    end
  end
  return codings
end

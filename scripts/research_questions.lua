-- Research-questions coder: puts every code of the stage's codebook whose
-- terms occur on a turn (the builtin dictionary's matching, compiled once by
-- the host), with a memo naming the research questions the codes bear on.

local dictionary
local questions_of = {}

local function compile(codebook)
  local terms = {}
  for _, code in ipairs(codebook) do
    if #code.terms > 0 then
      terms[code.id] = code.terms
    end
    questions_of[code.id] = code.questions
  end
  return thematic.dictionary(terms)
end

function code(segment, context)
  dictionary = dictionary or compile(context.codebook)
  local spans_of, order = {}, {}
  for _, hit in ipairs(dictionary:find(segment.text)) do
    if not spans_of[hit.code] then
      spans_of[hit.code] = {}
      order[#order + 1] = hit.code
    end
    table.insert(spans_of[hit.code], { hit.first, hit.last })
  end
  table.sort(order)
  local codings = {}
  for _, code in ipairs(order) do
    local questions = questions_of[code]
    codings[#codings + 1] = {
      code = code,
      spans = spans_of[code],
      memo = #questions > 0 and ("bears on " .. table.concat(questions, ", ")) or nil,
    }
  end
  return codings
end

-- Research-questions coder: puts every code of the stage's codebook whose
-- terms occur on a turn (the builtin dictionary's matching, compiled once by
-- the host), with a memo naming the research questions the codes bear on.

local codings = require("codings")

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
  return codings.from_hits(dictionary:find(segment.text), nil, function(code)
    local questions = questions_of[code]
    return #questions > 0 and ("bears on " .. table.concat(questions, ", ")) or nil
  end)
end

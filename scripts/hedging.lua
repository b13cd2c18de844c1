-- Hedging and uncertainty: codes a turn where the speaker qualifies what they
-- say ("maybe", "I suppose", "I'm not sure"), with every hedge as a span.
-- Use it as the script of a `lua` coding stage; `params.code` renames the code.

codes = { "hedging" }

local hedges = {
  "maybe", "perhaps", "possibly", "probably", "i suppose", "i guess", "sort of",
  "kind of", "i think", "i don't know", "i'm not sure", "not entirely sure",
}

-- Whether `text` has a word character at byte `at` (false past either end).
local function word_at(text, at)
  return at >= 1 and at <= #text and text:sub(at, at):match("[%w_]") ~= nil
end

function code(segment, context)
  -- Lua lowercases ASCII only, byte for byte, so positions stay those of the text.
  local text = segment.text:lower()
  local spans = {}
  for _, hedge in ipairs(hedges) do
    local from = 1
    while true do
      local first, last = text:find(hedge, from, true)
      if not first then break end
      if not word_at(text, first - 1) and not word_at(text, last + 1) then
        spans[#spans + 1] = { first, last }
      end
      from = last + 1
    end
  end
  if #spans == 0 then
    return nil
  end
  table.sort(spans, function(a, b) return a[1] < b[1] end)
  return {
    {
      code = context.params.code or "hedging",
      spans = spans,
      confidence = math.min(1, #spans / 3),
      memo = #spans .. " hedge(s)",
    },
  }
end

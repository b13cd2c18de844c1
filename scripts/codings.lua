-- A module for coding scripts: `require("codings")`.

local codings = {}

-- Turns dictionary hits (`{ code, first, last }`, as `dictionary:find` returns
-- them) into one coding per code, its hits as spans, codes in name order.
-- `keep(hit)`, if given, chooses the hits that count; `memo(code)`, if given,
-- writes each coding's memo.
function codings.from_hits(hits, keep, memo)
  local spans_of, order = {}, {}
  for _, hit in ipairs(hits) do
    if not keep or keep(hit) then
      if not spans_of[hit.code] then
        spans_of[hit.code] = {}
        order[#order + 1] = hit.code
      end
      table.insert(spans_of[hit.code], { hit.first, hit.last })
    end
  end
  table.sort(order)
  local list = {}
  for _, code in ipairs(order) do
    list[#list + 1] = { code = code, spans = spans_of[code], memo = memo and memo(code) or nil }
  end
  return list
end

return codings

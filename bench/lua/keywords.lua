-- The keyword coder a methodologist would write in plain Lua: each term found
-- with string.find in the lowercased turn (no word boundaries, prefix terms as
-- plain substrings). For throughput beside the host's dictionary, not for agreement.
local terms

function code(segment, context)
  if not terms then
    terms = {}
    for _, c in ipairs(context.codebook) do
      for _, term in ipairs(c.terms) do
        terms[#terms + 1] = { c.id, (term:gsub("%*$", "")):lower() }
      end
    end
  end
  local text = segment.text:lower()
  local seen, codings = {}, {}
  for _, entry in ipairs(terms) do
    if not seen[entry[1]] and text:find(entry[2], 1, true) then
      seen[entry[1]] = true
      codings[#codings + 1] = { code = entry[1] }
    end
  end
  return codings
end

-- A module for theme-grouping scripts: `require("candidate_themes")`.

local candidate_themes = {}

-- Candidate themes from `groups`, each a list of code names: every group of
-- two or more codes becomes a theme, its codes most used first (names break
-- ties), themes ordered by their codes' segments, most first; theme `i` gets
-- the id `prefix .. i` and is named after its two most used codes.
function candidate_themes.from_groups(summary, groups, prefix)
  local used = function(code) return summary.codes[code].segments end
  local found = {}
  for _, codes in ipairs(groups) do
    if #codes >= 2 then
      local segments = 0
      for _, code in ipairs(codes) do
        segments = segments + used(code)
      end
      table.sort(codes, function(x, y)
        if used(x) ~= used(y) then return used(x) > used(y) end
        return x < y
      end)
      found[#found + 1] = { codes = codes, segments = segments }
    end
  end
  table.sort(found, function(x, y)
    if x.segments ~= y.segments then return x.segments > y.segments end
    return x.codes[1] < y.codes[1]
  end)
  local themes = {}
  for i, g in ipairs(found) do
    themes[i] = { id = prefix .. i, name = g.codes[1] .. " with " .. g.codes[2], codes = g.codes }
  end
  return themes
end

return candidate_themes

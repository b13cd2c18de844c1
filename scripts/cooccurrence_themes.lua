-- Candidate themes from code co-occurrence: codes that are often put on the
-- same segment are collated into one theme (phase 3 of the method, as a first
-- proposal for the researcher to review). Two codes join when the segments they
-- share are at least `params.min_overlap` (default 0.25) of the segments
-- carrying either (the Jaccard index) and number at least `params.min_shared`
-- (default 2); every group of two or more codes becomes a theme, named after its
-- two most used codes.

local candidate_themes = require("candidate_themes")

-- Union-find over code names.
local function find(parent, code)
  while parent[code] ~= code do
    parent[code] = parent[parent[code]]
    code = parent[code]
  end
  return code
end

function group(summary, context)
  local min_shared = context.params.min_shared or 2
  local min_overlap = context.params.min_overlap or 0.25
  local parent = {}
  for code in pairs(summary.codes) do
    parent[code] = code
  end
  for _, pair in ipairs(summary.cooccurrence) do
    local either = summary.codes[pair.a].segments + summary.codes[pair.b].segments - pair.segments
    if pair.segments >= min_shared and pair.segments / either >= min_overlap then
      local a, b = find(parent, pair.a), find(parent, pair.b)
      if a ~= b then
        -- The smaller name leads, so the grouping does not depend on table order.
        if b < a then a, b = b, a end
        parent[b] = a
      end
    end
  end

  local members = {}
  for code in pairs(parent) do
    local root = find(parent, code)
    members[root] = members[root] or {}
    table.insert(members[root], code)
  end

  local groups = {}
  for _, codes in pairs(members) do
    groups[#groups + 1] = codes
  end
  local themes = candidate_themes.from_groups(summary, groups, "C")
  thematic.log(#themes .. " candidate theme(s) from " .. #summary.cooccurrence .. " co-occurring pairs")
  return themes
end

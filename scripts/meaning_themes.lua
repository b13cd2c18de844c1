-- Candidate themes by meaning: codes whose coded segments say similar things
-- are collated into one theme (phase 3 of the method, as a first proposal for
-- the researcher to review). Each code's extracts are embedded and averaged
-- into the code's centre, and what all codes' centres share is taken away.
-- Codes are then clustered by average linkage: the two groups whose codes'
-- centres are most alike, on average, join, as long as that average
-- similarity is at least `params.min_similarity` (default 0.4). Every group
-- of two or more codes becomes a theme, named after its two most used codes.
-- The stage names the model it embeds with:
--
--   [[stages]]
--   name = "themes"
--   kind = "themes"
--   strategy = "lua"
--   script = "scripts/meaning_themes.lua"
--   model = "all-MiniLM-L6-v2"
--   params = { min_similarity = 0.4, extracts_per_code = 40 }
--
-- At most `params.extracts_per_code` (default 40) extracts of each code are
-- embedded, spread evenly over its extracts, so a much-used code costs no
-- more than a rarer one; each is embedded once across runs.

local candidate_themes = require("candidate_themes")

--- Up to `wanted` of `extracts`' texts, spread evenly from first to last.
local function spread(extracts, wanted)
  local texts = {}
  local step = math.max(1, #extracts / wanted)
  local at = 1
  while at <= #extracts and #texts < wanted do
    texts[#texts + 1] = extracts[math.floor(at)].text
    at = at + step
  end
  return texts
end

--- The element-wise sum of `vectors`.
local function sum(vectors)
  local total = {}
  for i = 1, #vectors[1] do
    total[i] = 0
  end
  for _, vector in ipairs(vectors) do
    for i, x in ipairs(vector) do
      total[i] = total[i] + x
    end
  end
  return total
end

--- `vector` scaled to length one (left as it is when it has no length).
local function unit(vector)
  local length = 0
  for _, x in ipairs(vector) do
    length = length + x * x
  end
  length = math.sqrt(length)
  if length > 0 then
    for i = 1, #vector do
      vector[i] = vector[i] / length
    end
  end
  return vector
end

--- The mean of `vectors`, scaled to length one.
local function centre(vectors)
  return unit(sum(vectors))
end

--- `vectors` less their mean, each scaled to length one: every code's
--- extracts come from the same interviews, so the codes' centres share a
--- large common part that would make every code look like every other.
local function distinct(vectors)
  if #vectors < 2 then
    return vectors
  end
  local total = sum(vectors)
  local apart = {}
  for k, vector in ipairs(vectors) do
    local rest = {}
    for i, x in ipairs(vector) do
      rest[i] = x - total[i] / #vectors
    end
    apart[k] = unit(rest)
  end
  return apart
end

--- Each code with extracts and its centre, codes in name order.
local function centres(summary, per_code)
  local names = {}
  for code, use in pairs(summary.codes) do
    if use.extracts and #use.extracts > 0 then
      names[#names + 1] = code
    end
  end
  table.sort(names)
  local vectors = {}
  for i, code in ipairs(names) do
    vectors[i] = centre(thematic.embed(spread(summary.codes[code].extracts, per_code)))
  end
  return names, distinct(vectors)
end

--- Average-linkage clustering: groups of indices into `vectors`.
local function cluster(vectors, min_similarity)
  local groups, similar = {}, {}
  for i = 1, #vectors do
    groups[i] = { i }
    similar[i] = {}
    for j = 1, i - 1 do
      local s = thematic.similarity(vectors[i], vectors[j])
      similar[i][j], similar[j][i] = s, s
    end
  end
  while true do
    -- The most alike pair of live groups; the first found wins ties, so the
    -- result does not depend on table order.
    local best, a, b = min_similarity, nil, nil
    for i = 1, #groups do
      if groups[i] then
        for j = i + 1, #groups do
          if groups[j] and similar[i][j] >= best and (a == nil or similar[i][j] > best) then
            best, a, b = similar[i][j], i, j
          end
        end
      end
    end
    if a == nil then
      break
    end
    -- The joined group's similarity to each other group is the average over
    -- all pairs of their codes (Lance and Williams' update for average linkage).
    local na, nb = #groups[a], #groups[b]
    for k = 1, #groups do
      if groups[k] and k ~= a and k ~= b then
        local s = (na * similar[a][k] + nb * similar[b][k]) / (na + nb)
        similar[a][k], similar[k][a] = s, s
      end
    end
    for _, member in ipairs(groups[b]) do
      table.insert(groups[a], member)
    end
    groups[b] = false
  end
  local kept = {}
  for _, group in ipairs(groups) do
    if group then
      kept[#kept + 1] = group
    end
  end
  return kept
end

function group(summary, context)
  local min_similarity = context.params.min_similarity or 0.4
  local per_code = context.params.extracts_per_code or 40
  local names, vectors = centres(summary, per_code)
  local groups = {}
  for _, members in ipairs(cluster(vectors, min_similarity)) do
    local codes = {}
    for i, member in ipairs(members) do
      codes[i] = names[member]
    end
    groups[#groups + 1] = codes
  end
  local themes = candidate_themes.from_groups(summary, groups, "M")
  thematic.log(#themes .. " candidate theme(s) by meaning from " .. #names .. " codes' extracts")
  return themes
end

-- Key-name helpers shared by the scripts; the same rules as keyspace.py's Python
-- (tests compare them). Prepended to the scripts that rebuild listing keys or members.
local function quote(s)
  return (string.gsub(s, '[^%w%-%._~]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end
local function member(updated_at, id)
  return string.rep('0', 20 - #updated_at) .. updated_at .. id
end
local function embed_member(due_member, seq)
  local s = tostring(seq)
  return due_member .. ':' .. string.rep('0', 12 - #s) .. s
end

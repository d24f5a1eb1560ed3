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
local function search_tag(s)
  return 'x' .. (string.gsub(s, '.', function(c)
    return string.format('%02x', string.byte(c))
  end))
end
local function user_tag(tenant_tag, user)
  return user and (tenant_tag .. search_tag(user)) or ''
end

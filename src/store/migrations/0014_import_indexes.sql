-- A userName is held unique by `users.user_name_folded` (its UNIQUE index), and `login_names`
-- now holds only aliases: the userName rows repeated that index at the cost of two more index
-- entries per created user, one of them at a random page (issue 17 item 3). The uniqueness of
-- login names across userNames and aliases is checked in store/users.rs against both.
DELETE FROM login_names WHERE is_alias = 0;

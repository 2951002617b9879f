-- The dashboard in Russian (issue 19): search on the Tests and Export screens treats ё and е as one letter.
--
-- Speech-to-text writes "е" where a person may type "ё" (and back): "Это всё, спасибо" and "Это все спасибо" are
-- one phrase.  The phrase search (p_search, "Phrase contains") compares both sides with ё/Ё folded to е/Е; the
-- exact phrase (p_phrase, the failure drill-down's click) stays exact: it names one stored phrase.
-- create or replace keeps the function's grants (authenticated only, 20261203090000_one_engine.sql).

create or replace function public.dashboard_tests_where(
    p_uid text, p_start timestamp, p_end timestamp, p_assistant_ids text[], p_languages text[],
    p_statuses text[], p_search text, p_phrase text
) returns text
language sql stable
set search_path = ''
as $$
    select concat_ws(' and ',
        format('t.user_id = %L', p_uid),
        case when p_start is not null then format('t.created_at >= %L::timestamp', p_start) end,
        case when p_end is not null then format('t.created_at < %L::timestamp', p_end) end,
        case when coalesce(cardinality(p_assistant_ids), 0) > 0
             then format('t.assistant_id = any(%L::text[])', p_assistant_ids) end,
        case when coalesce(cardinality(p_languages), 0) > 0
             then format('coalesce(nullif(t.language, ''''), ''english'') = any(%L::text[])', p_languages) end,
        case when coalesce(cardinality(p_statuses), 0) > 0
             then format('coalesce(nullif(t.status, ''''), ''initiated'') = any(%L::text[])', p_statuses) end,
        case when coalesce(p_search, '') <> ''
             then format('translate(t.test_phrase, ''ёЁ'', ''еЕ'') ilike %L escape ''\''',
                         '%' || translate(replace(replace(replace(p_search, '\', '\\'), '%', '\%'), '_', '\_'),
                                          'ёЁ', 'еЕ') || '%') end,
        case when p_phrase is not null then format('t.test_phrase = %L', p_phrase) end)
$$;

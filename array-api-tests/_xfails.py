"""Known deviations of specific libraries from the standard, marked xfail
(non-strict) *only* when that library is the namespace under test
(``ARRAY_API_TESTS_MODULE``).

Keys are module names; entries are ``(pattern, reason)`` where pattern is
matched against ``"<test module stem>::<test id>"`` and ``*`` is the only
wildcard (brackets are literal).  Nothing here applies to ``zyx.array_api``:
every deviation of zyx fails.

Each entry was verified against numpy 2.4 / array_api_strict 2.6.1; because
the marks are non-strict, a library that fixes a deviation shows up as
XPASS instead of failing.
"""

# -- numpy -------------------------------------------------------------------

_NP_SIG = (
    "NumPy's own functions do not follow the standard's signature conventions "
    "(positional-or-keyword instead of positional-only / keyword-only "
    "parameters, different parameter names or defaults); the failure message "
    "lists the details"
)

_NUMPY = [
    ("test_data_type_functions::test_finfo[*]", "np.finfo() does not accept arrays (the standard requires it)"),
    ("test_data_type_functions::test_iinfo[*]", "np.iinfo() does not accept arrays (the standard requires it)"),
    ("test_fft::test_fftfreq[*]", "np.fft.fftfreq/rfftfreq lack the dtype= (2024.12) and device= keywords"),
    ("test_inspection::test_array_api_version", "numpy 2.4 declares __array_api_version__ = '2024.12'"),
    ("test_inspection::test_devices", "__array_namespace_info__().devices() returns a list (a tuple since 2025.12)"),
    ("test_linalg::test_eig_eigvals[*]", "np.linalg.eig/eigvals return real results for real input (2025.12 requires complex)"),
    ("test_sorting::test_sort[*]", "np.sort has no descending= keyword"),
    ("test_sorting::test_argsort[*]", "np.argsort has no descending= keyword"),
    ("test_statistical::test_std_var_correction_too_large[*]",
     "np.std/np.var return inf instead of NaN when M - correction <= 0"),
    # test_function_signature
    ("test_signatures::test_function_signature[all]", _NP_SIG),
    ("test_signatures::test_function_signature[any]", _NP_SIG),
    ("test_signatures::test_function_signature[argmax]", _NP_SIG),
    ("test_signatures::test_function_signature[argmin]", _NP_SIG),
    ("test_signatures::test_function_signature[argsort]", _NP_SIG),
    ("test_signatures::test_function_signature[asarray]", _NP_SIG),
    ("test_signatures::test_function_signature[broadcast_to]", _NP_SIG),
    ("test_signatures::test_function_signature[can_cast]", _NP_SIG),
    ("test_signatures::test_function_signature[clip]", _NP_SIG),
    ("test_signatures::test_function_signature[concat]", _NP_SIG),
    ("test_signatures::test_function_signature[count_nonzero]", _NP_SIG),
    ("test_signatures::test_function_signature[diff]", _NP_SIG),
    ("test_signatures::test_function_signature[empty]", _NP_SIG),
    ("test_signatures::test_function_signature[empty_like]", _NP_SIG),
    ("test_signatures::test_function_signature[expand_dims]", _NP_SIG),
    ("test_signatures::test_function_signature[eye]", _NP_SIG),
    ("test_signatures::test_function_signature[finfo]", _NP_SIG),
    ("test_signatures::test_function_signature[flip]", _NP_SIG),
    ("test_signatures::test_function_signature[full]", _NP_SIG),
    ("test_signatures::test_function_signature[full_like]", _NP_SIG),
    ("test_signatures::test_function_signature[iinfo]", _NP_SIG),
    ("test_signatures::test_function_signature[imag]", _NP_SIG),
    ("test_signatures::test_function_signature[isin]", _NP_SIG),
    ("test_signatures::test_function_signature[linspace]", _NP_SIG),
    ("test_signatures::test_function_signature[max]", _NP_SIG),
    ("test_signatures::test_function_signature[mean]", _NP_SIG),
    ("test_signatures::test_function_signature[min]", _NP_SIG),
    ("test_signatures::test_function_signature[moveaxis]", _NP_SIG),
    ("test_signatures::test_function_signature[nonzero]", _NP_SIG),
    ("test_signatures::test_function_signature[ones]", _NP_SIG),
    ("test_signatures::test_function_signature[ones_like]", _NP_SIG),
    ("test_signatures::test_function_signature[permute_dims]", _NP_SIG),
    ("test_signatures::test_function_signature[prod]", _NP_SIG),
    ("test_signatures::test_function_signature[real]", _NP_SIG),
    ("test_signatures::test_function_signature[repeat]", _NP_SIG),
    ("test_signatures::test_function_signature[roll]", _NP_SIG),
    ("test_signatures::test_function_signature[round]", _NP_SIG),
    ("test_signatures::test_function_signature[searchsorted]", _NP_SIG),
    ("test_signatures::test_function_signature[sort]", _NP_SIG),
    ("test_signatures::test_function_signature[squeeze]", _NP_SIG),
    ("test_signatures::test_function_signature[stack]", _NP_SIG),
    ("test_signatures::test_function_signature[std]", _NP_SIG),
    ("test_signatures::test_function_signature[sum]", _NP_SIG),
    ("test_signatures::test_function_signature[take]", _NP_SIG),
    ("test_signatures::test_function_signature[take_along_axis]", _NP_SIG),
    ("test_signatures::test_function_signature[tensordot]", _NP_SIG),
    ("test_signatures::test_function_signature[tile]", _NP_SIG),
    ("test_signatures::test_function_signature[tril]", _NP_SIG),
    ("test_signatures::test_function_signature[triu]", _NP_SIG),
    ("test_signatures::test_function_signature[unique_all]", _NP_SIG),
    ("test_signatures::test_function_signature[unique_counts]", _NP_SIG),
    ("test_signatures::test_function_signature[unique_inverse]", _NP_SIG),
    ("test_signatures::test_function_signature[unique_values]", _NP_SIG),
    ("test_signatures::test_function_signature[var]", _NP_SIG),
    ("test_signatures::test_function_signature[vecdot]", _NP_SIG),
    ("test_signatures::test_function_signature[zeros]", _NP_SIG),
    ("test_signatures::test_function_signature[zeros_like]", _NP_SIG),
    # test_linalg_signature
    ("test_signatures::test_linalg_signature[det]", _NP_SIG),
    ("test_signatures::test_linalg_signature[eig]", _NP_SIG),
    ("test_signatures::test_linalg_signature[eigh]", _NP_SIG),
    ("test_signatures::test_linalg_signature[eigvals]", _NP_SIG),
    ("test_signatures::test_linalg_signature[eigvalsh]", _NP_SIG),
    ("test_signatures::test_linalg_signature[inv]", _NP_SIG),
    ("test_signatures::test_linalg_signature[matrix_power]", _NP_SIG),
    ("test_signatures::test_linalg_signature[matrix_rank]", _NP_SIG),
    ("test_signatures::test_linalg_signature[pinv]", _NP_SIG),
    ("test_signatures::test_linalg_signature[qr]", _NP_SIG),
    ("test_signatures::test_linalg_signature[slogdet]", _NP_SIG),
    ("test_signatures::test_linalg_signature[solve]", _NP_SIG),
    ("test_signatures::test_linalg_signature[svd]", _NP_SIG),
    # test_fft_signature
    ("test_signatures::test_fft_signature[fft]", _NP_SIG),
    ("test_signatures::test_fft_signature[fftfreq]", _NP_SIG),
    ("test_signatures::test_fft_signature[fftn]", _NP_SIG),
    ("test_signatures::test_fft_signature[fftshift]", _NP_SIG),
    ("test_signatures::test_fft_signature[hfft]", _NP_SIG),
    ("test_signatures::test_fft_signature[ifft]", _NP_SIG),
    ("test_signatures::test_fft_signature[ifftn]", _NP_SIG),
    ("test_signatures::test_fft_signature[ifftshift]", _NP_SIG),
    ("test_signatures::test_fft_signature[ihfft]", _NP_SIG),
    ("test_signatures::test_fft_signature[irfft]", _NP_SIG),
    ("test_signatures::test_fft_signature[irfftn]", _NP_SIG),
    ("test_signatures::test_fft_signature[rfft]", _NP_SIG),
    ("test_signatures::test_fft_signature[rfftfreq]", _NP_SIG),
    ("test_signatures::test_fft_signature[rfftn]", _NP_SIG),
]

# -- array_api_strict ----------------------------------------------------------

_NO_X64 = (
    "array_api_strict's simulated 'no_x64' device reports int32 as its default "
    "integer/index dtype but still computes index results (argmax, nonzero, "
    "unique_*, argsort, searchsorted, count_nonzero, matrix_rank) and sums of "
    "small integers in int64, which that device then rejects (ValueError)"
)

_STRICT = [
    ("test_signatures::test_array_method_signature[to_device]",
     "Array.to_device(device, /, stream=None): stream is not keyword-only"),
    ("test_set::test_isin[*]", "array_api_strict.isin ignores invert=True"),
    ("test_set::test_isin_scalars[*]", "array_api_strict.isin ignores invert=True"),
    ("test_statistical::test_std_var_correction_too_large[*]",
     "std/var return inf (NumPy's result) instead of NaN when M - correction <= 0"),
    ("test_fft::test_fftfreq[device2-*]",
     "fft.fftfreq/rfftfreq return float64 on 'device2' whose default real floating dtype is float32"),
    ("test_searching::test_argmax_argmin[no_x64-*]", _NO_X64),
    ("test_searching::test_count_nonzero[no_x64]", _NO_X64),
    ("test_searching::test_nonzero[no_x64]", _NO_X64),
    ("test_searching::test_searchsorted[no_x64]", _NO_X64),
    ("test_searching::test_searchsorted_scalar[no_x64]", _NO_X64),
    ("test_set::test_unique_counts[no_x64]", _NO_X64),
    ("test_set::test_unique_inverse[no_x64]", _NO_X64),
    ("test_set::test_unique_all[no_x64]", _NO_X64),
    ("test_set::test_unique_nan_and_signed_zero[no_x64-*]", _NO_X64),
    ("test_sorting::test_argsort[no_x64]", _NO_X64),
    ("test_statistical::test_sum_prod[no_x64-*]", _NO_X64),
    ("test_statistical::test_cumulative[no_x64-*]", _NO_X64),
    ("test_statistical::test_sum_prod_dtype_defaults_for_small_ints[no_x64]", _NO_X64),
    ("test_linalg::test_matrix_rank[no_x64]", _NO_X64),
    ("test_linalg::test_trace[no_x64]", _NO_X64),
]

KNOWN_DEVIATIONS: dict[str, list[tuple[str, str]]] = {
    "numpy": _NUMPY,
    "array_api_strict": _STRICT,
}
